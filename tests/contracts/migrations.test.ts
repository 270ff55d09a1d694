/** @module The embedded database's migrations: up creates the schema, status reports it, down reverts, up again works. */

import type { Database } from "bun:sqlite";
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/adapters/sqlite/database.ts";
import { deliveryListStatement, eventListStatements } from "../../src/adapters/sqlite/event-lists.ts";
import { MIGRATIONS, migrateDown, migrateUp, migrationStatus } from "../../src/adapters/sqlite/migrations.ts";
import { OPERATOR_QUERIES } from "../../src/adapters/sqlite/operator-reads.ts";
import { SqliteStore } from "../../src/adapters/sqlite/store.ts";
import { makeWebhook } from "./store.contract.ts";

/** The migrations from `version` on, as `migrateUp` applies them to a database at the one before. */
const versionsFrom = (version: number) => MIGRATIONS.map((m) => m.version).filter((v) => v >= version);

const TABLES = [
  "api_keys",
  "attempts",
  "consumer_offsets",
  "customers",
  "deliveries",
  "event_types",
  "events",
  "operational_events",
  "recovery_jobs",
  "replays",
  "retry_schedule",
  "settings",
  "users",
  "webhooks",
];

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

  it("reads a webhook stored before migration 6 as active for its own reasons, with no permanent failure codes", async () => {
    migrateUp(db);
    while (migrateDown(db)!.version > 6);
    db.run(`INSERT INTO webhooks (id, customer_id, url, event_types, headers, description, secret, status, created_at, updated_at)
            VALUES ('wh_old', 'acme', 'https://example.com/', '["*"]', '{}', NULL, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'disabled', 't0', 't0')`);
    expect(migrateUp(db).map((m) => m.version)).toEqual(versionsFrom(6));
    expect(await new SqliteStore(db).getWebhook("acme", "wh_old")).toMatchObject({ status: "disabled", disabledReason: null, permanentFailureCodes: [] });
  });

  it("reads a delivery stored before migration 7 as unordered, and a webhook as delivering in parallel", async () => {
    migrateUp(db);
    while (migrateDown(db)!.version > 7);
    db.run(`INSERT INTO webhooks (id, customer_id, url, event_types, headers, description, secret, status, created_at, updated_at)
            VALUES ('wh_seven', 'acme', 'https://example.com/', '["*"]', '{}', NULL, 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'active', 't0', 't0')`);
    db.run(`INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, created_at, updated_at) VALUES ('del_seven', 'acme', 'evt', 'wh_seven', 'pending', 1, 1)`);
    expect(migrateUp(db).map((m) => m.version)).toEqual(versionsFrom(7));
    const store = new SqliteStore(db);
    expect((await store.getDelivery("acme", "del_seven"))!.fifoKey).toBeNull();
    // And (migration 8) with no previous secret signing alongside.
    expect(await store.getWebhook("acme", "wh_seven")).toMatchObject({ ordering: null, previousSecret: null });
  });

  it("reads attempts written before migration 4 with no next try", async () => {
    migrateUp(db);
    while (migrateDown(db)!.version > 4);
    db.run(`INSERT INTO attempts (id, delivery_id, customer_id, attempt_number, status_code, duration_ms, error, response_body, created_at)
            VALUES ('att_old', 'del_old', 'acme', 1, 503, 5, 'HTTP 503', NULL, 1)`);
    expect(migrateUp(db).map((m) => m.version)).toEqual(versionsFrom(4));
    expect(await new SqliteStore(db).listAttempts("del_old")).toEqual([
      { id: "att_old", deliveryId: "del_old", customerId: "acme", attemptNumber: 1, statusCode: 503, durationMs: 5, error: "HTTP 503", responseBody: null, createdAt: 1, nextAttemptAt: null },
    ]);
  });

  it("upgrades a database whose attempts hold one attempt twice (written again after a lost acknowledgement): one row kept, the number unique from then on", () => {
    migrateUp(db);
    while (migrateDown(db)!.version > 5);
    const insert = `INSERT INTO attempts (id, delivery_id, customer_id, attempt_number, status_code, duration_ms, error, response_body, created_at)
                    VALUES (?, 'del_twice', 'acme', 1, 503, 5, 'HTTP 503', NULL, ?)`;
    db.run(insert, ["att_first", 1]);
    db.run(insert, ["att_again", 2]);
    db.run(`INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, created_at, updated_at) VALUES ('del_twice', 'acme', 'evt', 'wh', 'failed', 1, 7)`);
    expect(migrateUp(db).map((m) => m.version)).toEqual(versionsFrom(5));
    expect(db.query("SELECT id FROM attempts WHERE delivery_id = 'del_twice'").all()).toEqual([{ id: "att_first" }]);
    expect(() => db.run(insert, ["att_third", 3])).toThrow(/UNIQUE/);
    // An unfinished delivery from before carries a due time now, so the sweep can find it.
    expect(db.query("SELECT next_attempt_at FROM deliveries WHERE id = 'del_twice'").get()).toEqual({ next_attempt_at: 7 });
  });

  describe("query plans of the operator's reads", () => {
    /** EXPLAIN QUERY PLAN's steps for a statement, with null for each parameter. */
    function plan(sql: string): string[] {
      const params = sql.match(/\?/g)?.map(() => null) ?? [];
      return db
        .query<{ detail: string }, (string | null)[]>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(...params)
        .map((row) => row.detail);
    }

    beforeEach(() => migrateUp(db));

    it("reads recent failures backwards along the partial index, with no sort", () => {
      expect(plan(OPERATOR_QUERIES.RECENT_FAILURES)).toEqual(["SCAN deliveries USING INDEX deliveries_failing_by_updated"]);
    });

    it("reads webhook health's failures from the partial index and its counts from deliveries_by_webhook_status", () => {
      const page = plan(OPERATOR_QUERIES.HEALTH_PAGE);
      expect(page).toContain("SCAN deliveries USING INDEX deliveries_failing_by_updated");
      expect(page.filter((step) => /\bdeliveries\b/.test(step))).toEqual(["SCAN deliveries USING INDEX deliveries_failing_by_updated"]);
      expect(plan(OPERATOR_QUERIES.HEALTH_COUNTS)).toContain("SEARCH deliveries USING COVERING INDEX deliveries_by_webhook_status (webhook_id=?)");
    });

    /** The same for a statement with named parameters ($name), each bound to null. */
    function namedPlan(sql: string): string[] {
      const names = [...new Set(sql.match(/\$\w+/g) ?? [])].map((n) => [n.slice(1), null]);
      return db
        .query<{ detail: string }, [Record<string, null>]>(`EXPLAIN QUERY PLAN ${sql}`)
        .all(Object.fromEntries(names))
        .map((row) => row.detail);
    }

    it("lists a customer's events newest first by a seek in a covering index, by type in the type's, with no sort and no look at other customers", () => {
      const after = { acceptedAt: 1, id: "evt" };
      for (const [shape, index, seek] of [
        [{ after: null }, "events_by_customer_time", "customer_id=?"],
        [{ since: 1, until: 2, after }, "events_by_customer_time", "customer_id=? AND accepted_at>? AND accepted_at<?"],
        [{ type: "t", after: null }, "events_by_customer_type_time", "customer_id=? AND type=?"],
        [{ type: "t", since: 1, after }, "events_by_customer_type_time", "customer_id=? AND type=? AND accepted_at>? AND (accepted_at,id)<(?,?)"],
      ] as const) {
        const statements = eventListStatements(shape);
        for (const sql of [statements.page, statements.windowEnd]) expect({ shape, steps: namedPlan(sql) }).toEqual({ shape, steps: [`SEARCH events USING COVERING INDEX ${index} (${seek})`] });
      }
    });

    it("keeps the events with a delivery status by a probe of the deliveries' unique index each, within the window read from the covering index", () => {
      for (const shape of [
        { deliveryStatus: "failed", after: null },
        { deliveryStatus: "pending", type: "t", after: { acceptedAt: 1, id: "evt" } },
      ] as const) {
        const steps = namedPlan(eventListStatements(shape).withStatus);
        expect(steps.find((s) => s.startsWith("SEARCH events"))).toStartWith(
          `SEARCH events USING COVERING INDEX ${"type" in shape ? "events_by_customer_type_time" : "events_by_customer_time"} (customer_id=?`,
        );
        expect(steps).toContain("SEARCH d EXISTS USING INDEX sqlite_autoindex_deliveries_2 (customer_id=? AND event_id=?)");
        expect(steps.filter((s) => /^SCAN (events|deliveries|d)\b|TEMP B-TREE/.test(s))).toEqual([]);
      }
    });

    it("lists a webhook's deliveries newest first by a seek in deliveries_by_webhook (a time range is an id range), or deliveries_by_webhook_status", () => {
      expect(namedPlan(deliveryListStatement({ webhookId: "w", newestFirst: true }))).toEqual(["SEARCH deliveries USING INDEX deliveries_by_webhook (webhook_id=?)"]);
      expect(namedPlan(deliveryListStatement({ webhookId: "w", newestFirst: true, since: 1, until: 2, cursor: "c" }))).toEqual([
        "SEARCH deliveries USING INDEX deliveries_by_webhook (webhook_id=? AND id>? AND id<?)",
      ]);
      expect(namedPlan(deliveryListStatement({ webhookId: "w", status: "failed", newestFirst: true, cursor: "c" }))).toEqual([
        "SEARCH deliveries USING INDEX deliveries_by_webhook_status (webhook_id=? AND status=? AND id<?)",
      ]);
    });

    it("finds events by seeking the events' unique index per customer, never scanning events", () => {
      const steps = plan(OPERATOR_QUERIES.FIND_EVENTS);
      expect(steps).toContain("SEARCH e USING INDEX sqlite_autoindex_events_1 (customer_id=? AND id=?)");
      expect(steps).toContain("SEARCH events USING COVERING INDEX sqlite_autoindex_events_1 (customer_id>?)");
      expect(steps.filter((step) => /^SCAN (events|e)\b/.test(step))).toEqual([]);
    });
  });
});
