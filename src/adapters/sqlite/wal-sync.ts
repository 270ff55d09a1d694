/**
 * @module Durable commits without blocking the event loop. The event-log connection runs with
 * `synchronous = NORMAL` (a commit is a write into the WAL, no fsync) and `WalSync` flushes the
 * WAL file with fdatasync on Bun's I/O threads; a caller is answered once a flush that started
 * after its commit has finished. That is what `synchronous = FULL` guarantees (the WAL is on disk
 * before the commit is acknowledged), while NORMAL keeps checkpoints safe: SQLite syncs the WAL
 * before a checkpoint and the database after it, before the WAL is reused.
 *
 * Flushes are grouped: one runs at a time, at most one every `minIntervalMs`, and every commit
 * made while one runs is covered by the next. Under load that turns thousands of commits a second
 * into a few hundred fsyncs; alone, a commit waits for one fsync.
 */
import { closeSync, fdatasync, openSync } from "node:fs";

export class WalSync {
  /** Commits made so far (each `sync` call is one). */
  private committed = 0;
  /** Commits known to be on disk. */
  private durable = 0;
  private running = false;
  private flushCount = 0;
  private lastStart = 0;
  private waiters: { upTo: number; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(
    private readonly walPath: string,
    private readonly minIntervalMs = 1,
  ) {}

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
    let fd: number;
    try {
      // Opened per flush: SQLite may delete and recreate the WAL file when its last connection closes.
      fd = openSync(this.walPath, "r");
    } catch (err) {
      this.finish(upTo, err);
      return;
    }
    fdatasync(fd, (err) => {
      closeSync(fd);
      this.finish(upTo, err);
    });
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
