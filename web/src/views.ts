// The three views: sign in, my videos with the submit form, and one video followed live.
import type { Backend, Row } from "./backend";
import { bar, h, on } from "./dom";
import { currentLabel, etaLabel, fileName, isActive, sceneProgress, stalledReason, statusLabel, type Rows } from "./state";

export interface Actions {
  signInAnonymously(): void;
  signIn(email: string, password: string, create: boolean): void;
  /** Resolves true when the request was made (the form is cleared then). */
  submit(topic: string, description: string, mode: string, quality: string): Promise<boolean>;
  submitBatch(topics: string[], mode: string, quality: string): Promise<boolean>;
  cancel(videoId: string): void;
  retry(video: Row): void;
  remove(video: Row): void;
  download(video: Row): void;
  showCode(scene: Row): void;
}

export function signInView(actions: Actions, error: string): HTMLElement {
  const email = h("input", { type: "email", name: "email", placeholder: "email", "data-testid": "email" }) as HTMLInputElement;
  const password = h("input", { type: "password", name: "password", placeholder: "password (8+ characters)", "data-testid": "password" }) as HTMLInputElement;
  const submit = (create: boolean) => () => actions.signIn(email.value, password.value, create);
  return h(
    "section",
    { class: "card", "data-testid": "sign-in" },
    h("h2", {}, "Sign in"),
    on(h("button", { "data-testid": "guest" }, "Continue as a guest"), "click", () => actions.signInAnonymously()),
    h("p", { class: "muted" }, "or with an email address:"),
    email,
    password,
    on(h("button", { "data-testid": "sign-in-button" }, "Sign in"), "click", submit(false)),
    on(h("button", { "data-testid": "sign-up-button" }, "Create account"), "click", submit(true)),
    error ? h("p", { class: "error", "data-testid": "auth-error" }, error) : null,
  );
}

export function submitForm(backend: Backend, actions: Actions): HTMLElement {
  const topic = h("input", { name: "topic", placeholder: "Topic, e.g. Newton's laws", maxlength: 200, "data-testid": "topic" }) as HTMLInputElement;
  const description = h("textarea", { name: "description", placeholder: "What should the video show? (optional)", "data-testid": "description" }) as HTMLTextAreaElement;
  const options = (values: string[]) => values.map((v) => h("option", { value: v }, v));
  const mode = h("select", { name: "planner", "data-testid": "planner" }, ...options(backend.config.plannerModes)) as HTMLSelectElement;
  const quality = h("select", { name: "quality", "data-testid": "quality" }, ...options(backend.config.qualities)) as HTMLSelectElement;
  const topics = h("textarea", { name: "topics", placeholder: "Several topics, one per line: each becomes a video of one batch", "data-testid": "batch-topics" }) as HTMLTextAreaElement;
  const batchButton = on(h("button", { type: "button", "data-testid": "submit-batch" }, "Make one video per line"), "click", () => {
    const lines = topics.value.split("\n").map((line) => line.trim()).filter(Boolean);
    void actions.submitBatch(lines, mode.value, quality.value).then((made) => {
      if (made) topics.value = "";
    });
  });
  const form = h(
    "form",
    { class: "card", "data-testid": "submit-form" },
    h("h2", {}, "New video"),
    topic,
    description,
    h("label", {}, "Planner ", mode),
    h("label", {}, "Quality ", quality),
    h("button", { type: "submit", "data-testid": "submit" }, "Make the video"),
    h("details", { "data-testid": "batch" }, h("summary", {}, "Several topics at once"), topics, batchButton),
  );
  return on(form, "submit", (event) => {
    event.preventDefault();
    void actions.submit(topic.value.trim(), description.value.trim(), mode.value, quality.value).then((made) => {
      if (made) {
        topic.value = "";
        description.value = "";
      }
    });
  });
}

function videoItem(video: Row, selected: string | null): HTMLElement {
  const label = statusLabel(video);
  return h(
    "li",
    { class: video.$id === selected ? "selected" : "", "data-testid": "video-item", "data-id": video.$id },
    h("a", { href: `#/video/${video.$sequence}` }, video.topic || "(no topic)"),
    " ",
    h("span", { class: `badge ${label}`, "data-testid": "item-status" }, label),
    stalledReason(video) ? h("span", { class: "badge stalled", "data-testid": "item-stalled", title: stalledReason(video) ?? "" }, "stalled") : null,
    " ",
    bar(video.progress ?? 0, "list-progress"),
  );
}

/** My videos, newest first; the videos of one batch together under one heading. */
export function videoList(rows: Rows, selected: string | null): HTMLElement {
  const items: HTMLElement[] = [];
  const grouped = new Set<string>();
  const videos = rows.myVideos();
  for (const video of videos) {
    const batch = video.batch as string | undefined;
    if (!batch) {
      items.push(videoItem(video, selected));
      continue;
    }
    if (grouped.has(batch)) continue;
    grouped.add(batch);
    const members = videos.filter((v) => v.batch === batch);
    const done = members.filter((v) => v.status === "completed").length;
    items.push(
      h(
        "li",
        { class: "batch", "data-testid": "batch-group", "data-batch": batch },
        h("strong", {}, `Batch of ${members.length}`),
        h("span", { class: "muted" }, ` · ${done} of ${members.length} done`),
        h("ul", {}, ...members.map((v) => videoItem(v, selected))),
      ),
    );
  }
  return h("section", { class: "card" }, h("h2", {}, "My videos"), items.length ? h("ul", { "data-testid": "video-list" }, ...items) : h("p", { class: "muted", "data-testid": "no-videos" }, "No videos yet."));
}

/** My requests still waiting or rendering, oldest first: their place in my queue and their ETA. */
export function queueView(rows: Rows): HTMLElement {
  const waiting = rows.myVideos().filter(isActive).reverse();
  const items = waiting.map((video, i) =>
    h(
      "li",
      { "data-testid": "queue-item", "data-sequence": video.$sequence },
      h("span", { "data-testid": "queue-position" }, `${i + 1}.`),
      " ",
      h("a", { href: `#/video/${video.$sequence}` }, video.topic || "(no topic)"),
      " ",
      h("span", { class: `badge ${video.status}` }, video.status),
      video.queue_position ? h("span", { class: "muted", "data-testid": "queue-slot" }, ` · waiting for a render slot, position ${video.queue_position}`) : null,
      queueEta(video),
    ),
  );
  return h("section", { class: "card", "data-testid": "queue" }, h("h2", {}, "Queue"), items.length ? h("ol", { class: "plain" }, ...items) : h("p", { class: "muted", "data-testid": "queue-empty" }, "Nothing waiting."));
}

function queueEta(video: Row): HTMLElement {
  const eta = etaLabel(video);
  if (stalledReason(video)) return h("span", { class: "error", "data-testid": "queue-eta" }, " · stalled, ETA unknown");
  if (eta === "unknown") return h("span", { class: "muted", "data-testid": "queue-eta" }, " · ETA unknown");
  return eta ? h("span", { class: "muted", "data-testid": "queue-eta" }, ` · done about ${eta}`) : h("span", { class: "muted" }, " · no estimate yet");
}

export function videoView(backend: Backend, rows: Rows, video: Row, actions: Actions): HTMLElement {
  const scenes = rows.scenesOf(video.$id);
  const current = currentLabel(video, scenes);
  const label = statusLabel(video);
  const when = etaLabel(video);
  const eta = when ? h("p", { "data-testid": "eta" }, when === "unknown" ? "Expected to finish: unknown" : `Expected to finish at ${when}`) : null;
  const stalled = stalledReason(video);
  const download = video.combined_video_url
    ? h(
        "div",
        { class: "result" },
        on(h("button", { "data-testid": "download", "data-file-name": fileName(video.topic || "video", "mp4") }, `Download ${fileName(video.topic || "video", "mp4")}`), "click", () => actions.download(video)),
        h(
          "video",
          { src: backend.fileView(video.combined_video_url), poster: video.poster_url ? backend.fileView(video.poster_url) : undefined, controls: true, preload: "metadata", crossorigin: video.subtitles_url ? "use-credentials" : undefined, "data-testid": "player" },
          // The narration's subtitles (WebVTT), shown by default; a cross-origin track needs CORS with the session cookie.
          video.subtitles_url ? h("track", { kind: "subtitles", src: backend.fileView(video.subtitles_url), srclang: "en", label: "Narration", default: true, "data-testid": "captions" }) : null,
        ),
      )
    : null;
  return h(
    "section",
    { class: "card", "data-testid": "video", "data-id": video.$id },
    h("h2", { "data-testid": "video-topic" }, video.topic || ""),
    h("p", {}, "Request ", h("code", { "data-testid": "tracking-id" }, `#${video.$sequence}`)),
    h("p", {}, "Status: ", h("span", { class: `badge ${label}`, "data-testid": "video-status" }, label), video.phase ? h("span", { class: "muted", "data-testid": "video-phase" }, ` (${video.phase})`) : null),
    bar(video.progress ?? 0, "video-progress", video.status),
    h("p", {}, "Current: ", h("span", { "data-testid": "current-scene" }, current), scenes.length || video.scene_count ? ` · ${video.scenes_succeeded ?? 0} of ${video.scene_count ?? scenes.length} scenes done` : ""),
    eta,
    // It will not go on by itself (a Pod the cluster cannot start, no progress past its estimate).
    stalled ? h("p", { class: "error", "data-testid": "stalled" }, `Stalled: ${stalled}`) : null,
    video.error_message ? h("p", { class: "error", "data-testid": "video-error" }, video.error_message) : null,
    isActive(video) && !video.cancel_requested ? on(h("button", { "data-testid": "cancel" }, "Cancel"), "click", () => actions.cancel(video.$id)) : null,
    video.cancel_requested && isActive(video) ? h("p", { class: "muted", "data-testid": "cancelling" }, "Cancelling…") : null,
    // A failed request that was made (not refused before it started) can render its failed scenes again.
    video.status === "failed" && label !== "cancelled" && video.k8s_name && !video.delete_requested
      ? on(h("button", { "data-testid": "retry" }, "Retry failed scenes"), "click", () => actions.retry(video))
      : null,
    !isActive(video) && !video.delete_requested ? on(h("button", { class: "danger", "data-testid": "delete" }, "Delete"), "click", () => actions.remove(video)) : null,
    video.delete_requested ? h("p", { class: "muted", "data-testid": "deleting" }, "Deleting…") : null,
    download,
    h("ul", { class: "scenes", "data-testid": "scenes" }, ...scenes.map((scene) => sceneItem(backend, scene, actions))),
    h("pre", { class: "code", id: "code", "data-testid": "code", hidden: true }),
  );
}

function sceneItem(backend: Backend, scene: Row, actions: Actions): HTMLElement {
  const state = scene.status === "failed" ? "failed" : scene.status === "rendered" ? "done" : "";
  return h(
    "li",
    { "data-testid": "scene", "data-status": scene.status, "data-phase": scene.phase ?? "", "data-number": scene.scene_number },
    scene.poster_url ? h("img", { class: "thumb", src: backend.fileView(scene.poster_url), alt: `scene ${scene.scene_number}`, "data-testid": "thumbnail" }) : null,
    h("span", { class: "scene-name" }, `Scene ${scene.scene_number}: ${scene.name ?? ""}`),
    " ",
    h("span", { class: `badge ${scene.status}`, "data-testid": "scene-status" }, scene.phase || scene.status),
    scene.attempt ? h("span", { class: "muted" }, ` attempt ${scene.attempt}`) : null,
    scene.healed ? h("span", { class: "badge healed", "data-testid": "healed" }, "healed") : null,
    bar(sceneProgress(scene), "scene-progress", state),
    scene.error_message ? h("p", { class: "error", "data-testid": "scene-error" }, scene.error_message) : null,
    sceneLog(scene),
    scene.code_url ? on(h("button", { class: "link", "data-testid": "view-code" }, "View code"), "click", () => actions.showCode(scene)) : null,
  );
}

// The tail of a finished render's log (the operator copies it from the renderer's termination
// message). A running scene has no live log on the page: `scenefarm logs NAME --scene N -f` has it.
function sceneLog(scene: Row): HTMLElement | null {
  if (scene.phase === "Running") return h("p", { class: "muted", "data-testid": "scene-rendering" }, "rendering…");
  if (!scene.log_tail) return null;
  return h(
    "details",
    { class: "scene-log", "data-testid": "scene-log" },
    h("summary", {}, scene.status === "failed" ? "Log (last lines before it failed)" : "Log"),
    h("pre", { class: "log" }, String(scene.log_tail)),
  );
}
