// The three views: sign in, my videos with the submit form, and one video followed live.
import type { Backend, Row } from "./backend";
import { bar, h, on } from "./dom";
import { isActive, sceneProgress, type Rows } from "./state";

export interface Actions {
  signInAnonymously(): void;
  signIn(email: string, password: string, create: boolean): void;
  submit(topic: string, description: string, mode: string, quality: string): void;
  cancel(videoId: string): void;
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
  const form = h("form", { class: "card", "data-testid": "submit-form" }, h("h2", {}, "New video"), topic, description, h("label", {}, "Planner ", mode), h("label", {}, "Quality ", quality), h("button", { type: "submit", "data-testid": "submit" }, "Make the video"));
  return on(form, "submit", (event) => {
    event.preventDefault();
    actions.submit(topic.value.trim(), description.value.trim(), mode.value, quality.value);
  });
}

export function videoList(rows: Rows, selected: string | null): HTMLElement {
  const items = rows.myVideos().map((video) =>
    h(
      "li",
      { class: video.$id === selected ? "selected" : "", "data-testid": "video-item", "data-id": video.$id },
      h("a", { href: `#/video/${video.$id}` }, video.topic || "(no topic)"),
      " ",
      h("span", { class: `badge ${video.status}` }, video.status),
      " ",
      bar(video.progress ?? 0, "list-progress"),
    ),
  );
  return h("section", { class: "card" }, h("h2", {}, "My videos"), items.length ? h("ul", { "data-testid": "video-list" }, ...items) : h("p", { class: "muted", "data-testid": "no-videos" }, "No videos yet."));
}

export function videoView(backend: Backend, rows: Rows, video: Row, actions: Actions): HTMLElement {
  const scenes = rows.scenesOf(video.$id);
  const current = video.current_scene === null || video.current_scene === undefined ? "—" : `scene ${video.current_scene}${video.current_scene_name ? ` (${video.current_scene_name})` : ""}`;
  const eta = video.eta && isActive(video) ? h("p", { "data-testid": "eta" }, `Expected to finish at ${new Date(video.eta).toLocaleTimeString()}`) : null;
  const download = video.combined_video_url
    ? h(
        "div",
        { class: "result" },
        h("a", { href: backend.fileDownload(video.combined_video_url), download: `${video.$id}.mp4`, "data-testid": "download", class: "button" }, "Download the video"),
        h("video", { src: backend.fileView(video.combined_video_url), controls: true, "data-testid": "player" }),
      )
    : null;
  return h(
    "section",
    { class: "card", "data-testid": "video", "data-id": video.$id },
    h("h2", { "data-testid": "video-topic" }, video.topic || ""),
    h("p", {}, "Tracking id: ", h("code", { "data-testid": "tracking-id" }, video.$id)),
    h("p", {}, "Status: ", h("span", { class: `badge ${video.status}`, "data-testid": "video-status" }, video.status), video.phase ? h("span", { class: "muted", "data-testid": "video-phase" }, ` (${video.phase})`) : null),
    bar(video.progress ?? 0, "video-progress", video.status),
    h("p", {}, "Current: ", h("span", { "data-testid": "current-scene" }, current), ` · ${video.scenes_succeeded ?? 0} of ${video.scene_count ?? scenes.length} scenes done`),
    eta,
    video.error_message ? h("p", { class: "error", "data-testid": "video-error" }, video.error_message) : null,
    isActive(video) && !video.cancel_requested ? on(h("button", { "data-testid": "cancel" }, "Cancel"), "click", () => actions.cancel(video.$id)) : null,
    video.cancel_requested && isActive(video) ? h("p", { class: "muted", "data-testid": "cancelling" }, "Cancelling…") : null,
    download,
    h("ol", { class: "scenes", "data-testid": "scenes" }, ...scenes.map((scene) => sceneItem(scene, actions))),
    h("pre", { class: "code", id: "code", "data-testid": "code", hidden: true }),
  );
}

function sceneItem(scene: Row, actions: Actions): HTMLElement {
  const state = scene.status === "failed" ? "failed" : scene.status === "rendered" ? "done" : "";
  return h(
    "li",
    { "data-testid": "scene", "data-status": scene.status, "data-phase": scene.phase ?? "", "data-number": scene.scene_number },
    h("span", { class: "scene-name" }, `${scene.scene_number}. ${scene.name ?? ""}`),
    " ",
    h("span", { class: `badge ${scene.status}`, "data-testid": "scene-status" }, scene.phase || scene.status),
    scene.attempt ? h("span", { class: "muted" }, ` attempt ${scene.attempt}`) : null,
    scene.healed ? h("span", { class: "badge healed", "data-testid": "healed" }, "healed") : null,
    bar(sceneProgress(scene), "scene-progress", state),
    scene.error_message ? h("p", { class: "error", "data-testid": "scene-error" }, scene.error_message) : null,
    scene.code_url ? on(h("button", { class: "link", "data-testid": "view-code" }, "View code"), "click", () => actions.showCode(scene)) : null,
  );
}
