/** @module The embedded database's migrations: up creates the schema, status reports it, down reverts, up again works. */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { Database } from "bun:sqlite";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/adapters/sqlite/database.ts";
import { MIGRATIONS, migrateDown, migrateUp, migrationStatus } from "../../src/adapters/sqlite/migrations.ts";
import { SqliteStore } from "../../src/adapters/sqlite/store.ts";
import { makeWebhook } from "./store.contract.ts";

const TABLES = ["api_keys", "attempts", "consumer_offsets", "customers", "deliveries", "events", "retry_schedule", "settings", "users", "webhooks"];

function tables(db: Database): string[] {
  return db
    .query<{ name: string }, []>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
    .all()
    .map((row) => row.name)
    .filter((name) => name !== "schema_migrations");
}

describe("sqlite migrations", () => {
  let dataDir: string;
  let db: Database;

  beforeEach(() => {
    dataDir = mkdtempSync(join(tmpdir(), "hookrelay-migrations-"));
    db = openDatabase({ dataDir, synchronous: "NORMAL" });
  });

  afterEach(() => {
    db.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it("shows every migration pending on a new database", () => {
    expect(tables(db)).toEqual([]);
    expect(migrationStatus(db)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: null })));
  });

  it("creates every table on up and reports the migrations applied", () => {
    const applied = migrateUp(db);
    expect(applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(tables(db)).toEqual(TABLES);
    for (const status of migrationStatus(db)) {
      expect(status.appliedAt).not.toBeNull();
      expect(Number.isNaN(Date.parse(status.appliedAt!))).toBe(false);
    }
  });

  it("applies nothing the second time", () => {
    migrateUp(db);
    expect(migrateUp(db)).toEqual([]);
    expect(tables(db)).toEqual(TABLES);
  });

  it("reverts the newest migration on down, then has nothing left to revert", () => {
    migrateUp(db);
    const reverted = migrateDown(db);
    expect(reverted?.version).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
    if (MIGRATIONS.length === 1) {
      expect(tables(db)).toEqual([]);
      expect(migrateDown(db)).toBeUndefined();
    }
    expect(migrationStatus(db).find((m) => m.version === reverted!.version)!.appliedAt).toBeNull();
  });

  it("migrates up again after down, to a working schema", async () => {
    migrateUp(db);
    while (migrateDown(db)) {}
    expect(tables(db)).toEqual([]);
    expect(migrateUp(db)).toHaveLength(MIGRATIONS.length);
    expect(tables(db)).toEqual(TABLES);
    const store = new SqliteStore(db);
    const webhook = makeWebhook("acme");
    await store.createWebhook(webhook);
    expect(await store.getWebhook("acme", webhook.id)).toEqual(webhook);
  });

  it("keeps the schema when the database is reopened", () => {
    migrateUp(db);
    db.close();
    db = openDatabase({ dataDir, synchronous: "FULL" });
    expect(migrateUp(db)).toEqual([]);
    expect(tables(db)).toEqual(TABLES);
    expect(migrationStatus(db).every((m) => m.appliedAt !== null)).toBe(true);
  });
});
