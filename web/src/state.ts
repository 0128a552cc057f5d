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

  /** The video a tracking number (`$sequence`, what the URL and the page show) names, if mine. */
  byTracking(key: string): Row | undefined {
    return [...this.videos.values()].find((v) => String(v.$sequence) === key);
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

/** The status a person should read: a cancelled request is "cancelled", not "failed". */
export function statusLabel(video: Row): string {
  return video.phase === "Cancelled" ? "cancelled" : String(video.status ?? "");
}

/** A file name from the topic, as `scenefarm submit` names requests: "Newton's laws" -> newtons-laws. */
export function fileName(topic: string, extension: string): string {
  const folded = topic.normalize("NFKD").replace(/[\u0300-\u036f]/g, "").toLowerCase().replace(/['’ʼ`´]/g, "");
  const base = folded.replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 60).replace(/-+$/g, "");
  return `${base || "video"}.${extension}`;
}

/** Why a request in progress cannot go on by itself (the operator's Stalled condition), while it lasts. */
export function stalledReason(video: Row): string | null {
  return isActive(video) && video.stalled ? String(video.stalled) : null;
}

/** When it should be done: a time, "unknown" when stalled or overdue (never a time already past),
 * or null while there is no estimate (or nothing left to estimate). */
export function etaLabel(video: Row, now: number = Date.now()): string | null {
  if (!isActive(video)) return null;
  if (stalledReason(video)) return "unknown";
  if (!video.eta) return null;
  const when = new Date(video.eta);
  return when.getTime() <= now ? "unknown" : when.toLocaleTimeString();
}

const STARTED = ["Running", "Healing", "Retrying", "Succeeded", "Failed", "Stopped"];

/** "scene 1 (first-law)", or "not started yet" until a scene has run. */
export function currentLabel(video: Row, scenes: Row[]): string {
  const running = scenes.find((s) => ["Running", "Healing", "Retrying"].includes(s.phase));
  if (running) return `scene ${running.scene_number}${running.name ? ` (${running.name})` : ""}`;
  if (!scenes.some((s) => STARTED.includes(s.phase))) {
    if (!isActive(video)) return "—";
    return scenes.some((s) => Number(s.attempt ?? 0) > 1) ? "waiting to run again" : "not started yet";
  }
  return "—";
}

/** A new batch id: topics submitted together carry it (a label value: letters, digits, '-'). */
export function newBatch(): string {
  return `b-${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
}
