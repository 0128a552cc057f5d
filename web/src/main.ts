// The page: sign in (and out), submit one topic or a batch, list my videos (a batch as one
// group), my queue, follow one live over Realtime with scene thumbnails, download it under
// its topic's name.
// All state comes from rows (listed once, then kept current by Realtime events), so a reload
// or a second tab shows the same thing; the selected video lives in the URL (#/video/<N>, its
// $sequence: a row id never appears in the URL or on the page, so it cannot be shared and used
// to probe someone's row with a cursor; docs/appwrite.md).
import "./style.css";
import { Backend, loadConfig, type Row } from "./backend";
import { h, on } from "./dom";
import { fileName, newBatch, Rows } from "./state";
import { queueView, signInView, submitForm, videoList, videoView, type Actions } from "./views";

const app = document.getElementById("app") as HTMLElement;
const who = document.getElementById("who") as HTMLElement;
const rows = new Rows();
// Every row change the page showed: for the tests (statuses seen) and the latency benchmark.
const shown: { table: string; id: string; status: string; phase: string; updatedAt: string; shownAt: number }[] = [];
let backend: Backend;
let signedIn = false;
let message = "";
const listBox = h("div", { id: "list" });
const queueBox = h("div", { id: "queue" });
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
  submit: (topic, description, mode, quality) => submit(topic, description, mode, quality),
  submitBatch: (topics, mode, quality) => submitBatch(topics, mode, quality),
  cancel: (id) => void backend.cancel(id).then(() => say("Cancel requested."), (e) => say(`Could not cancel: ${failure(e)}`)),
  download: (video) => void download(video),
  retry: (video) => void backend.retry(video).then(() => say("Retry requested: the failed scenes render again."), (e) => say(`Could not retry: ${failure(e)}`)),
  remove: (video) => void remove(video),
  showCode: (scene) => void showCode(scene),
};

async function signOut(): Promise<void> {
  try {
    await backend.signOut();
  } catch (error) {
    say(`Could not sign out: ${failure(error)}`);
    return;
  }
  location.hash = "";
  location.reload(); // a fresh page: no rows, no subscription of the signed-out user
}

async function remove(video: Row): Promise<void> {
  if (!window.confirm(`Delete "${video.topic}" and its files?`)) return;
  try {
    await backend.remove(video.$id);
    rows.apply("videos", { ...video, delete_requested: true }, false);
    say(`Deleting request #${video.$sequence}.`);
    render();
  } catch (error) {
    say(`Could not delete: ${failure(error)}`);
  }
}

/** Save the video under its topic's name (a cross-origin link's own name would be the file's). */
async function download(video: Row): Promise<void> {
  try {
    const url = URL.createObjectURL(await backend.blob(video.combined_video_url));
    const link = h("a", { href: url, download: fileName(video.topic || "video", "mp4"), hidden: true });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (error) {
    say(`Could not download: ${failure(error)}`);
  }
}

async function signIn(how: () => Promise<void>): Promise<void> {
  try {
    await how();
    await start();
  } catch (error) {
    app.replaceChildren(signInView(actions, failure(error)));
  }
}

async function submit(topic: string, description: string, mode: string, quality: string): Promise<boolean> {
  if (!topic) {
    say("Say what the video should explain first.");
    return false;
  }
  try {
    const row = await backend.submit(topic, description, mode, quality);
    rows.apply("videos", row, false);
    say(`Submitted: request #${row.$sequence}`);
    location.hash = `#/video/${row.$sequence}`;
    render();
    return true;
  } catch (error) {
    say(`Could not submit: ${failure(error)}`);
    return false;
  }
}

/** One request row per topic, all with one batch id; the rows made so far stay made. */
async function submitBatch(topics: string[], mode: string, quality: string): Promise<boolean> {
  if (topics.length === 0) {
    say("Write one topic per line first.");
    return false;
  }
  const batch = newBatch();
  const made: Row[] = [];
  for (const topic of topics) {
    try {
      const row = await backend.submit(topic, "", mode, quality, batch);
      rows.apply("videos", row, false);
      made.push(row);
    } catch (error) {
      say(`Submitted ${made.length} of ${topics.length}; "${topic}" was refused: ${failure(error)}`);
      render();
      return false;
    }
  }
  say(`Submitted a batch of ${made.length}: ${made.map((r) => `#${r.$sequence}`).join(", ")}`);
  render();
  return true;
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
  const key = selected();
  const video = key ? rows.byTracking(key) : undefined;
  const id = video ? video.$id : null;
  listBox.replaceChildren(videoList(rows, id));
  queueBox.replaceChildren(queueView(rows));
  videoBox.replaceChildren(video ? videoView(backend, rows, video, actions) : h("p", { class: "muted" }, key ? "No such video (or not yours)." : "Pick a video to follow it."));
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
  who.after(on(h("button", { "data-testid": "sign-out" }, "Sign out"), "click", () => void signOut()));
  app.replaceChildren(h("div", { class: "columns" }, h("div", {}, submitForm(backend, actions), noticeBox, queueBox, listBox), h("div", {}, videoBox, codeBox)));
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
