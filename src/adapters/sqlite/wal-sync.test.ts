import { Database } from "bun:sqlite";
import { describe, expect, it } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WalSync } from "./wal-sync.ts";

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
});
