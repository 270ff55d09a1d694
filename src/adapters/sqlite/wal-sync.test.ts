import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FsyncThread, poolFlusher, WalSync } from "./wal-sync.ts";

function walDatabase() {
  const path = join(mkdtempSync(join(tmpdir(), "wal-sync-")), "t.db");
  const db = new Database(path, { create: true });
  db.run("PRAGMA journal_mode = WAL");
  db.run("PRAGMA synchronous = NORMAL");
  db.run("CREATE TABLE t (v TEXT)");
  return { db, wal: `${path}-wal` };
}

describe("WalSync", () => {
  it("answers every commit once a flush that started after it has finished, grouping concurrent ones", async () => {
    const { db, wal } = walDatabase();
    const sync = new WalSync(wal, 5);
    const answered: number[] = [];
    const calls = Array.from({ length: 50 }, (_, i) => {
      db.run("INSERT INTO t VALUES (?)", [`row ${i}`]);
      return sync.sync().then(() => answered.push(i));
    });
    await Promise.all(calls);
    expect(answered.sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(sync.durableCommits).toBe(50);
    // The first commit starts a flush at once; the 49 made while it runs share the next one.
    expect(sync.flushes).toBe(2);
    db.close();
  });

  it("runs one flush at a time: commits made during a flush wait for the next one", async () => {
    const { db, wal } = walDatabase();
    const sync = new WalSync(wal, 0);
    db.run("INSERT INTO t VALUES ('a')");
    const first = sync.sync();
    db.run("INSERT INTO t VALUES ('b')");
    const second = sync.sync();
    let firstDone = false;
    void first.then(() => (firstDone = true));
    await second;
    expect(firstDone).toBe(true);
    expect(sync.durableCommits).toBe(2);
    expect(sync.flushes).toBe(2);
    db.run("INSERT INTO t VALUES ('c')");
    await sync.sync();
    expect(sync.flushes).toBe(3);
    db.close();
  });

  it("rejects the waiting commits when the WAL cannot be flushed", async () => {
    const sync = new WalSync(join(tmpdir(), "no-such-dir-hookrelay", "x.db-wal"));
    await expect(sync.sync()).rejects.toThrow(/ENOENT/);
    expect(sync.durableCommits).toBe(0);
  });

  it("flushes on its own thread: a flush is not held behind Argon2 verifications filling Bun's work pool", async () => {
    const { db, wal } = walDatabase();
    const thread = new FsyncThread();
    const hash = await Bun.password.hash("right");
    /** Median and longest ms of `n` flushes made one after another while `busy` verifications are queued. */
    const flushes = async (flush: (path: string) => Promise<void>, busy: number, n: number) => {
      const verifications = Array.from({ length: busy }, () => Bun.password.verify("wrong", hash));
      await Bun.sleep(5);
      const took: number[] = [];
      for (let i = 0; i < n; i++) {
        db.run("INSERT INTO t VALUES ('x')");
        const start = performance.now();
        await flush(wal);
        took.push(performance.now() - start);
      }
      await Promise.all(verifications);
      took.sort((a, b) => a - b);
      return { median: took[Math.floor(n / 2)]!, max: took[n - 1]! };
    };
    // Two verifications per pool thread (the pool has one per core), so the pool stays full while we flush.
    const busy = 2 * navigator.hardwareConcurrency;
    const started = performance.now();
    await Bun.password.verify("wrong", hash);
    const oneVerification = performance.now() - started;
    const onThread = await flushes(thread.flush, busy, 10);
    const onPool = await flushes(poolFlusher, busy, 1);
    // The pool's flush waits for verifications ahead of it; the thread's does not wait for any.
    expect(onPool.max).toBeGreaterThan(oneVerification / 2);
    expect(onThread.median).toBeLessThan(oneVerification / 4);
    thread.close();
    await expect(thread.flush(wal)).rejects.toThrow("fsync thread is closed");
    db.close();
  });

  it("rejects a flush still waiting when its thread is closed", async () => {
    const { db, wal } = walDatabase();
    const sync = new WalSync(wal);
    db.run("INSERT INTO t VALUES ('a')");
    const waiting = sync.sync();
    sync.close();
    // Either it was on disk before the close, or it is refused: never left hanging.
    const outcome = await waiting.then(
      () => "durable",
      (err: Error) => err.message,
    );
    expect(["durable", "fsync thread closed before the flush finished"]).toContain(outcome);
    db.close();
  });
});
