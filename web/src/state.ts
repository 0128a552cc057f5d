// The page's state is the rows, nothing else: a reload lists them again and follows on.
import type { Row } from "./backend";

export class Rows {
  videos = new Map<string, Row>();
  scenes = new Map<string, Row>();
  updatedAt = new Map<string, number>(); // row id -> Date.now() when the DOM showed it (benchmarks)

  replace(videos: Row[], scenes: Row[]): void {
    this.videos = new Map(videos.map((v) => [v.$id, v]));
    this.scenes = new Map(scenes.map((s) => [s.$id, s]));
  }

  apply(table: string, row: Row, deleted: boolean): void {
    const map = table === "scenes" ? this.scenes : this.videos;
    if (deleted) map.delete(row.$id);
    else map.set(row.$id, row);
  }

  myVideos(): Row[] {
    return [...this.videos.values()].sort((a, b) => Number(b.$sequence) - Number(a.$sequence));
  }

  scenesOf(videoId: string): Row[] {
    return [...this.scenes.values()]
      .filter((s) => s.video_id === videoId)
      .sort((a, b) => a.scene_number - b.scene_number);
  }
}

const SCENE_BAR: Record<string, number> = { Pending: 0, Queued: 25, Retrying: 35, Healing: 40, Running: 65, Succeeded: 100, Failed: 100, Stopped: 100 };

/** How far a scene is, from its phase (or from the original status for older writers). */
export function sceneProgress(scene: Row): number {
  const byStatus: Record<string, number> = { planned: 0, coded: 50, rendered: 100, failed: 100 };
  return SCENE_BAR[scene.phase] ?? byStatus[scene.status] ?? 0;
}

export function isActive(video: Row): boolean {
  return ["queued", "planning", "rendering"].includes(video.status);
}
