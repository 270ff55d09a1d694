/**
 * @module Durable commits without blocking the event loop. The event-log connection runs with
 * `synchronous = NORMAL` (a commit is a write into the WAL, no fsync) and `WalSync` flushes the
 * WAL file with fdatasync on a thread of its own; a caller is answered once a flush that started
 * after its commit has finished. That is what `synchronous = FULL` guarantees (the WAL is on disk
 * before the commit is acknowledged), while NORMAL keeps checkpoints safe: SQLite syncs the WAL
 * before a checkpoint and the database after it, before the WAL is reused.
 *
 * Flushes are grouped: one runs at a time, at most one every `minIntervalMs`, and every commit
 * made while one runs is covered by the next. Under load that turns thousands of commits a second
 * into a few hundred fsyncs; alone, a commit waits for one fsync.
 *
 * Why a thread of its own: Bun's async fs calls (`fs.fdatasync`) run on its shared work pool, as
 * many threads as cores, which `Bun.password` (Argon2), compression and crypto use too. Anybody
 * who can make the process verify passwords (a login flood needs no credentials) could then hold
 * every 202 behind their hashes: on 2 cores one fdatasync took 0.3 ms alone, 120 ms with 2
 * verifications queued, 1 s with 16. A dedicated Worker doing `fdatasyncSync` shares nothing
 * with that pool (0.3 ms alone and with 16 verifications queued), at the cost of one thread and a
 * message each way per flush.
 */
import { closeSync, fdatasync, openSync } from "node:fs";

/** Flushes `path` (opens it, fdatasyncs, closes); rejects with the fs error. */
export type Flusher = (path: string) => Promise<void>;

/**
 * The worker's code, inline (a Blob URL), so the compiled binary needs no extra entry point. It
 * opens the file per flush: SQLite may delete and recreate the WAL file when its last connection
 * closes.
 */
const FSYNC_WORKER = `
const { openSync, closeSync, fdatasyncSync } = require("node:fs");
self.onmessage = (event) => {
  const { id, path } = event.data;
  let error = null;
  try {
    const fd = openSync(path, "r");
    try { fdatasyncSync(fd); } finally { closeSync(fd); }
  } catch (err) {
    error = { message: String(err && err.message), code: err && err.code };
  }
  postMessage({ id, error });
};
postMessage("ready");
`;

/**
 * A thread that does nothing but fdatasync, one file at a time. It does not keep the process
 * alive; `close` ends it and fails the flushes still waiting.
 */
export class FsyncThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve: () => void; reject: (err: Error) => void }>();
  private nextId = 0;
  private closed = false;

  constructor() {
    const url = URL.createObjectURL(new Blob([FSYNC_WORKER], { type: "application/javascript" }));
    this.worker = new Worker(url);
    // Bun's "open": the worker has loaded its code, so the URL is no longer needed.
    this.worker.unref();
    this.worker.onmessage = (event: MessageEvent<{ id: number; error: { message: string; code?: string } | null } | "ready">) => {
      // The worker has read its code: the URL is no longer needed.
      if (event.data === "ready") return URL.revokeObjectURL(url);
      const { id, error } = event.data;
      const waiter = this.pending.get(id);
      if (!waiter) return;
      this.pending.delete(id);
      if (error) waiter.reject(Object.assign(new Error(error.message), error.code ? { code: error.code } : {}));
      else waiter.resolve();
    };
    this.worker.onerror = (event) => this.failAll(new Error(`fsync thread failed: ${event.message}`));
  }

  readonly flush: Flusher = (path) =>
    new Promise((resolve, reject) => {
      if (this.closed) return reject(new Error("fsync thread is closed"));
      const id = this.nextId++;
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ id, path });
    });

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.worker.terminate();
    this.failAll(new Error("fsync thread closed before the flush finished"));
  }

  private failAll(err: Error): void {
    for (const waiter of this.pending.values()) waiter.reject(err);
    this.pending.clear();
  }
}

/** fdatasync on Bun's shared work pool (what WalSync used before it had a thread): for comparison in tests. */
export const poolFlusher: Flusher = (path) =>
  new Promise((resolve, reject) => {
    let fd: number;
    try {
      fd = openSync(path, "r");
    } catch (err) {
      return reject(err);
    }
    fdatasync(fd, (err) => {
      closeSync(fd);
      if (err) reject(err);
      else resolve();
    });
  });

export class WalSync {
  /** Commits made so far (each `sync` call is one). */
  private committed = 0;
  /** Commits known to be on disk. */
  private durable = 0;
  private running = false;
  private flushCount = 0;
  private lastStart = 0;
  private waiters: { upTo: number; resolve: () => void; reject: (err: unknown) => void }[] = [];
  /** The thread WalSync made for itself (none when a flusher was given), ended by `close`. */
  private readonly thread: FsyncThread | null;
  private readonly flusher: Flusher;

  /** @param flusher how a flush is done; by default on an fsync thread of this WalSync's own. */
  constructor(
    private readonly walPath: string,
    private readonly minIntervalMs = 1,
    flusher?: Flusher,
  ) {
    this.thread = flusher ? null : new FsyncThread();
    this.flusher = flusher ?? this.thread!.flush;
  }

  /** Ends the fsync thread; commits still waiting are rejected. */
  close(): void {
    this.thread?.close();
  }

  /** Resolves once everything this connection committed before the call is on disk. */
  sync(): Promise<void> {
    const upTo = ++this.committed;
    return new Promise((resolve, reject) => {
      this.waiters.push({ upTo, resolve, reject });
      this.start();
    });
  }

  private start(): void {
    if (this.running || this.waiters.length === 0) return;
    this.running = true;
    const wait = this.lastStart + this.minIntervalMs - performance.now();
    if (wait > 0) setTimeout(() => this.flush(), wait);
    else this.flush();
  }

  private flush(): void {
    this.lastStart = performance.now();
    this.flushCount++;
    const upTo = this.committed;
    this.flusher(this.walPath).then(
      () => this.finish(upTo, null),
      (err) => this.finish(upTo, err ?? new Error("flush failed")),
    );
  }

  private finish(upTo: number, err: unknown): void {
    this.running = false;
    const covered = this.waiters.filter((w) => w.upTo <= upTo);
    this.waiters = this.waiters.filter((w) => w.upTo > upTo);
    if (err) for (const w of covered) w.reject(err);
    else {
      this.durable = upTo;
      for (const w of covered) w.resolve();
    }
    this.start();
  }

  /** Commits acknowledged as durable so far. */
  get durableCommits(): number {
    return this.durable;
  }

  /** fdatasync calls made so far. */
  get flushes(): number {
    return this.flushCount;
  }
}
