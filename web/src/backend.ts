// Everything the page asks of Appwrite, through the official Web SDK. No Kubernetes anywhere:
// a request is a row in `videos`; the operator picks it up and writes progress back into it.
import { Account, Client, ID, Query, Realtime, Storage, TablesDB } from "appwrite";
import type { Models } from "appwrite";

export interface Config {
  endpoint: string;
  project: string;
  database: string;
  bucket: string;
  plannerModes: string[];
  qualities: string[];
}

export type Row = Models.Row & Record<string, any>;

export async function loadConfig(): Promise<Config> {
  const answer = await fetch("./config.json", { cache: "no-store" });
  if (!answer.ok) throw new Error(`config.json: ${answer.status}`);
  return (await answer.json()) as Config;
}

export class Backend {
  readonly client: Client;
  readonly account: Account;
  readonly tables: TablesDB;
  readonly storage: Storage;
  readonly realtime: Realtime;

  constructor(readonly config: Config) {
    this.client = new Client().setEndpoint(config.endpoint).setProject(config.project);
    this.account = new Account(this.client);
    this.tables = new TablesDB(this.client);
    this.storage = new Storage(this.client);
    this.realtime = new Realtime(this.client);
  }

  async me(): Promise<Models.User | null> {
    try {
      return await this.account.get();
    } catch {
      return null;
    }
  }

  async signInAnonymously(): Promise<void> {
    await this.account.createAnonymousSession();
  }

  async signIn(email: string, password: string, create: boolean): Promise<void> {
    if (create) await this.account.create({ userId: ID.unique(), email, password });
    await this.account.createEmailPasswordSession({ email, password });
  }

  async signOut(): Promise<void> {
    await this.account.deleteSession({ sessionId: "current" });
  }

  /** Every row this user may read: Appwrite filters by permission, so these are "my" rows. */
  async load(): Promise<{ videos: Row[]; scenes: Row[] }> {
    const { database } = this.config;
    const [videos, scenes] = await Promise.all([
      this.tables.listRows<Row>({ databaseId: database, tableId: "videos", queries: [Query.orderDesc("$sequence"), Query.limit(100)] }),
      this.tables.listRows<Row>({ databaseId: database, tableId: "scenes", queries: [Query.limit(5000)] }),
    ]);
    return { videos: videos.rows, scenes: scenes.rows };
  }

  /** A request: the row the operator turns into a VideoRequest. Its id is the tracking id. */
  async submit(topic: string, description: string, plannerMode: string, quality: string, batch?: string): Promise<Row> {
    const data: Record<string, unknown> = { topic, description, status: "queued", progress: 0, planner_mode: plannerMode, quality };
    if (batch) data.batch = batch; // topics submitted together: one group on the page, one label on the requests
    return this.tables.createRow<Row>({ databaseId: this.config.database, tableId: "videos", rowId: ID.unique(), data });
  }

  /** Re-render the failed scenes: one more retry than the row has asked for so far. */
  async retry(video: Row): Promise<void> {
    const data = { retry_requested: Number(video.retry_requested ?? 0) + 1 };
    await this.tables.updateRow({ databaseId: this.config.database, tableId: "videos", rowId: video.$id, data });
  }

  /** Delete the video: the operator deletes its request, then its rows and files. */
  async remove(videoId: string): Promise<void> {
    await this.tables.updateRow({ databaseId: this.config.database, tableId: "videos", rowId: videoId, data: { delete_requested: true } });
  }

  async cancel(videoId: string): Promise<void> {
    await this.tables.updateRow({ databaseId: this.config.database, tableId: "videos", rowId: videoId, data: { cancel_requested: true } });
  }

  /** Row changes of both tables, as they happen (only rows this user may read arrive). */
  async follow(onRow: (table: string, row: Row, deleted: boolean) => void): Promise<void> {
    const { database } = this.config;
    const channels = ["videos", "scenes"].map((t) => `databases.${database}.tables.${t}.rows`);
    await this.realtime.subscribe(channels, (event) => {
      const row = event.payload as Row;
      const table = String(row.$tableId ?? (event.channels.some((c) => c.includes(".tables.scenes.")) ? "scenes" : "videos"));
      onRow(table, row, event.events.some((e) => e.endsWith(".delete")));
    });
  }

  fileView(fileId: string): string {
    return this.storage.getFileView({ bucketId: this.config.bucket, fileId });
  }

  fileDownload(fileId: string): string {
    return this.storage.getFileDownload({ bucketId: this.config.bucket, fileId });
  }

  /** The file as a Blob (the session's cookie goes along), to save it under a name of our choosing. */
  async blob(fileId: string): Promise<Blob> {
    const answer = await fetch(this.fileDownload(fileId), { credentials: "include" });
    if (!answer.ok) throw new Error(`the video is not readable (${answer.status})`);
    return answer.blob();
  }

  async code(fileId: string): Promise<string> {
    const answer = await fetch(this.fileView(fileId), { credentials: "include" });
    if (!answer.ok) throw new Error(`the code is not readable yet (${answer.status})`);
    return answer.text();
  }
}
