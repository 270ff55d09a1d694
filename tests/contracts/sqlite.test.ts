/** @module Runs the Store, EventLog and RetrySchedule contracts on the embedded SQLite adapters. */
import { describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SqliteAccounts } from "../../src/adapters/sqlite/accounts.ts";
import { openDatabase } from "../../src/adapters/sqlite/database.ts";
import { SqliteEventLog } from "../../src/adapters/sqlite/event-log.ts";
import { migrateUp } from "../../src/adapters/sqlite/migrations.ts";
import { SqliteRetrySchedule } from "../../src/adapters/sqlite/retry-schedule.ts";
import { SqliteStore } from "../../src/adapters/sqlite/store.ts";
import { UnavailableError } from "../../src/domain/errors.ts";
import { describeAccountsContract } from "./accounts.contract.ts";
import { describeEventLogContract } from "./event-log.contract.ts";
import { describeRetryScheduleContract } from "./retry-schedule.contract.ts";
import { describeStoreContract } from "./store.contract.ts";

/** A migrated database in a fresh temporary data directory, removed on close. */
function freshDatabase() {
  const dataDir = mkdtempSync(join(tmpdir(), "hookrelay-contract-"));
  const db = openDatabase({ dataDir, synchronous: "NORMAL" });
  migrateUp(db);
  return {
    db,
    close: async () => {
      db.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describeAccountsContract("sqlite", async () => {
  const { db, close } = freshDatabase();
  return { accounts: new SqliteAccounts(db), close };
});

describeStoreContract("sqlite", async () => {
  const { db, close } = freshDatabase();
  const log = new SqliteEventLog(db);
  return {
    store: new SqliteStore(db),
    // In the embedded deployment the event log's table is where the store reads events.
    appendEvents: async (events) => {
      await log.append(events);
    },
    close,
  };
});

describeEventLogContract("sqlite", async () => {
  const { db, close } = freshDatabase();
  return { log: new SqliteEventLog(db), close };
});

describeRetryScheduleContract("sqlite", async () => {
  const { db, close } = freshDatabase();
  return { schedule: new SqliteRetrySchedule(db), close };
});

describe("sqlite event log under a locked database", () => {
  it("answers an append it cannot commit in time with a retryable 503 UnavailableError", async () => {
    const { db, close } = freshDatabase();
    const other = openDatabase({ dataDir: db.filename.replace(/\/hookrelay\.db$/, ""), synchronous: "NORMAL" });
    try {
      db.run("PRAGMA busy_timeout = 50");
      other.run("BEGIN IMMEDIATE"); // another writer holds the lock
      const event = { customerId: "c", id: "e1", type: "t", source: "s", timestamp: "2026-01-01T00:00:00Z", payload: "{}", acceptedAt: 1 };
      const err = await new SqliteEventLog(db).append([event]).catch((e) => e);
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err.status).toBe(503);
      expect(err.message).toContain("SQLITE_BUSY");
      other.run("ROLLBACK");
      expect(await new SqliteEventLog(db).append([event])).toEqual(["accepted"]);
    } finally {
      other.close();
      await close();
    }
  });
});

describe("sqlite event log shared by two processes", () => {
  const event = (id: string) => ({ customerId: "c", id, type: "t", source: "s", timestamp: "2026-01-01T00:00:00Z", payload: `{"id":"${id}"}`, acceptedAt: 1 });

  it("hands a consumer its own process's appends and another process's, in log order, whatever duplicates used up", async () => {
    const { db, close } = freshDatabase();
    const otherDb = openDatabase({ dataDir: db.filename.replace(/\/hookrelay\.db$/, ""), synchronous: "NORMAL" });
    try {
      const mine = new SqliteEventLog(db);
      const other = new SqliteEventLog(otherDb); // another process on the same file
      const consumer = mine.consumer("g");
      await mine.append([event("a1"), event("a2")]);
      await other.append([event("b1")]);
      await mine.append([event("a3")]);
      await other.append([event("b2"), event("b3")]);
      await mine.append([event("a1"), event("a4")]); // a1 again, first in the batch: its position is used up
      await mine.append([event("a5")]); // the next batch starts after a gap

      const read: string[] = [];
      for (let polls = 0; polls < 10 && read.length < 8; polls++) for (const e of await consumer.poll(2, 0)) read.push(e.id);
      expect(read).toEqual(["a1", "a2", "b1", "a3", "b2", "b3", "a4", "a5"]);
      const positions = new Set<number>();
      // Re-reading from a second group (from the table) gives the same events at the same positions.
      for (const e of await mine.consumer("h").poll(10, 0)) positions.add(e.position);
      expect(positions.size).toBe(8);
    } finally {
      otherDb.close();
      await close();
    }
  });
});
