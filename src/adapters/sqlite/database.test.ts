// Opening the database waits for another process's lock instead of failing: a supervisor restarted
// after a kill -9 opened every shard's file while a shard of the old one still held it, and its start
// failed with SQLITE_BUSY (the sharded no-loss property in CI, seed 1159714658).
import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { databasePath, openDatabase } from "./database.ts";

describe("openDatabase", () => {
  it("waits for a lock another process holds, then opens the file", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "hookrelay-open-"));
    try {
      openDatabase({ dataDir, synchronous: "NORMAL" }).close();
      // Another process takes the file whole for a moment.
      const holder = Bun.spawn(
        [
          "bun",
          "-e",
          `const { Database } = require("bun:sqlite");
           const db = new Database(${JSON.stringify(databasePath(dataDir))});
           db.run("PRAGMA locking_mode = EXCLUSIVE"); db.run("BEGIN EXCLUSIVE"); db.run("CREATE TABLE held (x)");
           console.log("held"); Bun.sleepSync(600); db.run("COMMIT"); db.close();`,
        ],
        { stdout: "pipe", stderr: "inherit" },
      );
      const reader = holder.stdout.getReader();
      expect(new TextDecoder().decode((await reader.read()).value)).toContain("held");
      const began = performance.now();
      const db = openDatabase({ dataDir, synchronous: "NORMAL" });
      expect(performance.now() - began).toBeGreaterThan(100); // it waited for the holder
      expect(db.query("SELECT count(*) AS n FROM held").get()).toEqual({ n: 0 });
      db.close();
      expect(await holder.exited).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
