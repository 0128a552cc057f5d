// The page: sign in, submit, list my videos, follow one live over Realtime, download it.
// All state comes from rows (listed once, then kept current by Realtime events), so a reload
// or a second tab shows the same thing; the selected video lives in the URL (#/video/<id>).
import "./style.css";
import { Backend, loadConfig, type Row } from "./backend";
import { h } from "./dom";
import { Rows } from "./state";
import { signInView, submitForm, videoList, videoView, type Actions } from "./views";

const app = document.getElementById("app") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;
const rows = new Rows();
// Every row change the page showed: for the tests (statuses seen) and the latency benchmark.
const shown: { table: string; id: string; status: string; phase: string; updatedAt: string; shownAt: number }[] = [];
let backend: Backend;
let signedIn = false;
let message = "";
const listBox = h("div", { id: "list" });
const videoBox = h("div", { id: "video" });
const noticeBox = h("p", { class: "notice", "data-testid": "notice" });
const codeBox = h("pre", { class: "code", "data-testid": "code-view", hidden: true });

function selected(): string | null {
  const match = location.hash.match(/^#\/video\/(.+)$/);
  return match ? decodeURIComponent(match[1]) : null;
}

function say(text: string): void {
  message = text;
  noticeBox.textContent = text;
}

function failure(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const actions: Actions = {
  signInAnonymously: () => void signIn(() => backend.signInAnonymously()),
  signIn: (email, password, create) => void signIn(() => backend.signIn(email, password, create)),
  submit: (topic, description, mode, quality) => void submit(topic, description, mode, quality),
  cancel: (id) => void backend.cancel(id).then(() => say("Cancel requested."), (e) => say(`Could not cancel: ${failure(e)}`)),
  showCode: (scene) => void showCode(scene),
};

async function signIn(how: () => Promise<void>): Promise<void> {
  try {
    await how();
    await start();
  } catch (error) {
    app.replaceChildren(signInView(actions, failure(error)));
  }
}

async function submit(topic: string, description: string, mode: string, quality: string): Promise<void> {
  if (!topic) return say("Say what the video should explain first.");
  try {
    const row = await backend.submit(topic, description, mode, quality);
    rows.apply("videos", row, false);
    say(`Submitted: tracking id ${row.$id}`);
    location.hash = `#/video/${row.$id}`;
    render();
  } catch (error) {
    say(`Could not submit: ${failure(error)}`);
  }
}

async function showCode(scene: Row): Promise<void> {
  codeBox.hidden = false;
  codeBox.dataset.scene = String(scene.scene_number);
  try {
    codeBox.textContent = await backend.code(scene.code_url);
  } catch (error) {
    codeBox.textContent = failure(error);
  }
}

function render(): void {
  const id = selected();
  listBox.replaceChildren(videoList(rows, id));
  const video = id ? rows.videos.get(id) : undefined;
  videoBox.replaceChildren(video ? videoView(backend, rows, video, actions) : h("p", { class: "muted" }, id ? "No such video (or not yours)." : "Pick a video to follow it."));
}

async function reload(): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      const { videos, scenes } = await backend.load();
      rows.replace(videos, scenes);
      if (attempt > 1) say("");
      render();
      return;
    } catch (error) {
      // Appwrite unreachable, or the tables not made yet: say so and try again, backing off.
      const seconds = Math.min(30, 2 ** attempt);
      say(`Could not load your videos (${failure(error)}); trying again in ${seconds} s.`);
      await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
    }
  }
}

async function start(): Promise<void> {
  const me = await backend.me();
  if (me === null) {
    app.replaceChildren(signInView(actions, ""));
    return;
  }
  who.textContent = me.email ? me.email : `guest ${me.$id}`;
  who.dataset.userId = me.$id;
  if (signedIn) return;
  signedIn = true;
  app.replaceChildren(h("div", { class: "columns" }, h("div", {}, submitForm(backend, actions), noticeBox, listBox), h("div", {}, videoBox, codeBox)));
  noticeBox.textContent = message;
  let opened = 0;
  // Events sent while the socket was down are not replayed: list the rows again after a reconnect.
  backend.realtime.onOpen(() => {
    opened += 1;
    if (opened > 1) setTimeout(() => void reload(), 250);
  });
  await reload();
  await backend.follow((table, row, deleted) => {
    rows.apply(table, row, deleted);
    render();
    shown.push({ table, id: row.$id, status: row.status, phase: row.phase, updatedAt: row.$updatedAt, shownAt: Date.now() });
    if (shown.length > 10000) shown.shift();
  });
  document.body.dataset.following = "true";
}

window.addEventListener("hashchange", () => {
  codeBox.hidden = true;
  if (signedIn) render();
});
(window as unknown as { scenefarm: object }).scenefarm = { rows, shown };

loadConfig()
  .then((config) => {
    backend = new Backend(config);
    return start();
  })
  .catch((error) => app.replaceChildren(h("p", { class: "error" }, `The page could not start: ${failure(error)}`)));
