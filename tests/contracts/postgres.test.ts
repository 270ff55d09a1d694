/**
 * @module Runs the Store contract, the migrations and `hookrelay migrate` against a real
 * PostgreSQL (HOOKRELAY_TEST_DATABASE_URL). Every suite works in a schema of its own
 * (`hr_test_<random>`, through search_path), dropped when the file is done.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { resolve } from "node:path";
import { checkedEventFilter } from "../../src/adapters/event-pages.ts";
import { PostgresAccounts } from "../../src/adapters/postgres/accounts.ts";
import { createPool, type Sql } from "../../src/adapters/postgres/client.ts";
import { eventListStatements } from "../../src/adapters/postgres/event-lists.ts";
import { MIGRATIONS, migrateDown, migrateUp, migrationStatus } from "../../src/adapters/postgres/migrations.ts";
import { PostgresStore } from "../../src/adapters/postgres/store.ts";
import { UnavailableError } from "../../src/domain/errors.ts";
import type { Delivery, DeliveryStatus } from "../../src/domain/model.ts";
import type { AttemptRecord } from "../../src/domain/ports.ts";
import { requireServices, schemaFactory } from "../helpers/services.ts";
import { describeAccountsContract } from "./accounts.contract.ts";
import { makeEvent, T0 } from "./event-log.contract.ts";
import { describeStoreContract, makeWebhook } from "./store.contract.ts";

const BASE_URL = process.env.HOOKRELAY_TEST_DATABASE_URL;
const ROOT = resolve(import.meta.dir, "../..");
const TABLES = ["api_keys", "attempts", "customers", "deliveries", "event_types", "events", "operational_events", "recovery_jobs", "replays", "settings", "users", "webhooks"];

if (requireServices("PostgreSQL", { HOOKRELAY_TEST_DATABASE_URL: BASE_URL })) describePostgres(BASE_URL!);

/** Waits up to 5 s for `done`. */
async function waitUntil(done: () => boolean): Promise<void> {
  for (let waited = 0; !done(); waited += 10) {
    if (waited > 5_000) throw new Error("timed out");
    await Bun.sleep(10);
  }
}

function describePostgres(baseUrl: string): void {
  const admin = createPool({ url: baseUrl, maxConnections: 2 });
  /** A new empty schema and a URL whose connections work in it; dropped after the file. */
  const freshSchema = schemaFactory(baseUrl);

  async function tables(schema: string): Promise<string[]> {
    const rows = await admin<{ table_name: string }[]>`
      SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} AND table_name <> 'schema_migrations'
      ORDER BY table_name`;
    return rows.map((r) => r.table_name);
  }

  afterAll(() => admin.end());

  describeAccountsContract("postgres", async () => {
    const { url } = await freshSchema();
    const sql = createPool({ url, maxConnections: 4 });
    await migrateUp(sql);
    return { accounts: new PostgresAccounts(sql), close: () => sql.end() };
  });

  describeStoreContract("postgres", async () => {
    const { url } = await freshSchema();
    const sql = createPool({ url, maxConnections: 10 });
    await migrateUp(sql);
    return { store: new PostgresStore(sql), close: () => sql.end() };
  });

  describe("PostgreSQL store", () => {
    /** The first attempt of `delivery`, with a fixed id. */
    function record(delivery: Delivery, id: string, statusCode: number, status: DeliveryStatus, nextAttemptAt: number | null): AttemptRecord {
      const error = statusCode >= 300 ? `HTTP ${statusCode}` : null;
      return {
        delivery,
        attempt: {
          id,
          deliveryId: delivery.id,
          customerId: delivery.customerId,
          attemptNumber: 1,
          statusCode,
          durationMs: 3,
          error,
          responseBody: null,
          createdAt: T0,
        },
        status,
        nextAttemptAt,
      };
    }

    /** A migrated schema, a store on it, and a count of the statements the store sends that contain `text`. */
    async function counted(text: string) {
      const { schema, url } = await freshSchema();
      const sql = createPool({ url, maxConnections: 4 });
      await migrateUp(sql);
      let statements = 0;
      const spy = new Proxy(sql, {
        apply(target, self, args: unknown[]) {
          const strings = args[0] as TemplateStringsArray | undefined;
          if (strings?.raw && strings.join("").includes(text)) statements++;
          return Reflect.apply(target, self, args);
        },
      });
      return { schema, sql, store: new PostgresStore(spy), statements: () => statements };
    }

    it("sends a webhook-change notice to every watcher once a change commits (and one when the watch connects); a watching writer answers after its own", async () => {
      const { url } = await freshSchema();
      const [writerSql, watcherSql] = [createPool({ url, maxConnections: 2 }), createPool({ url, maxConnections: 2 })];
      await migrateUp(writerSql);
      const [writer, watcher] = [new PostgresStore(writerSql), new PostgresStore(watcherSql)];
      let [notices, own] = [0, 0];
      const stops = [await watcher.watchWebhooks(() => notices++), await writer.watchWebhooks(() => own++)];
      try {
        await waitUntil(() => notices === 1 && own === 1); // connected
        const webhook = makeWebhook("acme");
        await writer.createWebhook(webhook);
        // Answered only once its notice came back to the writer's own watch.
        expect(own).toBe(2);
        await waitUntil(() => notices === 2);
        await writer.updateWebhook({ ...webhook, description: "changed" });
        expect(own).toBe(3);
        await waitUntil(() => notices === 3);
        // Nothing changed, no notice: a read of the webhooks.
        await writer.listWebhooks("acme", 10);
        await Bun.sleep(200);
        expect([notices, own]).toEqual([3, 3]);
      } finally {
        for (const stop of stops) await stop();
        await Promise.all([writerSql.end(), watcherSql.end()]);
      }
    });

    it("plans the event and delivery lists on the indexes of migration 8, never a scan of events or deliveries (one customer's 40,000 events among 50,000, analyzed)", async () => {
      const { url } = await freshSchema();
      const sql = createPool({ url, maxConnections: 2 });
      try {
        await migrateUp(sql);
        await sql`INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
          SELECT CASE WHEN i > 10000 THEN 'big' ELSE 'c' || (i % 20) END, 'e' || i, 't' || (i % 7), 's', 'ts', '{}', ${T0}::bigint + i, 1 FROM generate_series(1, 50000) i`;
        await sql`INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, created_at, updated_at)
          SELECT 'del_' || lpad(i::text, 12, '0'), CASE WHEN i > 10000 THEN 'big' ELSE 'c' || (i % 20) END, 'e' || i, 'w' || (i % 50), (ARRAY['pending', 'succeeded', 'failed', 'dead'])[1 + i % 4], 1, 1
          FROM generate_series(1, 50000) i`;
        await sql`ANALYZE`;
        type PlanNode = { "Node Type": string; "Relation Name"?: string; "Index Name"?: string; Plans?: PlanNode[] };
        const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];
        const planOf = async (query: unknown) => nodes(((await sql`EXPLAIN (FORMAT JSON) ${query as never}`)[0]!["QUERY PLAN"] as { Plan: PlanNode }[])[0]!.Plan);
        const cursor = Buffer.from(`${T0 + 35_000}:e35000`).toString("base64url");
        for (const [filter, index] of [
          [{ limit: 100 }, "events_by_customer_time"],
          [{ limit: 100, since: T0 + 20_000, until: T0 + 40_000, cursor }, "events_by_customer_time"],
          [{ limit: 100, type: "t3" }, "events_by_customer_type_time"],
          [{ limit: 100, type: "t3", deliveryStatus: "failed" }, "events_by_customer_type_time"],
          [{ limit: 100, deliveryStatus: "pending" }, "events_by_customer_time"],
        ] as const) {
          const statements = eventListStatements(sql, "big", checkedEventFilter(filter));
          for (const query of [statements.page(), ...("deliveryStatus" in filter ? [statements.withStatus(), statements.windowEnd()] : [])]) {
            const plan = await planOf(query);
            expect({ filter, scans: plan.filter((n) => n["Node Type"] === "Seq Scan").map((n) => n["Relation Name"]) }).toEqual({ filter, scans: [] });
            // The events are read through this index only (an index scan, or a bitmap scan of it); the deliveries, if at all, through theirs.
            expect({ filter, events: plan.flatMap((n) => (n["Index Name"]?.startsWith("events") ? [n["Index Name"]] : [])) }).toEqual({ filter, events: [index] });
          }
        }
        const byWebhook = await planOf(sql`SELECT * FROM deliveries WHERE customer_id = 'big' AND webhook_id = 'w3' ORDER BY id DESC LIMIT 101`);
        expect(byWebhook.filter((n) => n["Relation Name"] === "deliveries").map((n) => n["Index Name"])).toEqual(["deliveries_by_webhook"]);
      } finally {
        await sql.end();
      }
    });

    it("opens the deliveries of a whole batch in one statement", async () => {
      const { sql, store, statements } = await counted("INSERT INTO deliveries");
      try {
        const webhooks = [1, 2, 3].map(() => makeWebhook("acme"));
        for (const webhook of webhooks) await store.createWebhook(webhook);
        const events = Array.from({ length: 200 }, (_, i) => makeEvent("acme", `evt_${i}`));
        const opened = await store.openDeliveries(
          events.map((event) => ({ event, webhooks })),
          Date.now(),
        );
        expect(opened.flat()).toHaveLength(600);
        expect(statements()).toBe(1);
        const again = await store.openDeliveries(
          events.map((event) => ({ event, webhooks })),
          Date.now(),
        );
        expect(again.flat().map((d) => d.id)).toEqual(opened.flat().map((d) => d.id));
        expect(statements()).toBe(2);
      } finally {
        await sql.end();
      }
    });

    it("writes concurrent recordAttempts calls as one statement", async () => {
      const { sql, store, statements } = await counted("INSERT INTO attempts");
      try {
        const webhook = makeWebhook("acme");
        await store.createWebhook(webhook);
        const items = Array.from({ length: 50 }, (_, i) => ({ event: makeEvent("acme", `evt_${i}`), webhooks: [webhook] }));
        const opened = (await store.openDeliveries(items, Date.now())).flat();
        await Promise.all(opened.map((delivery, i) => store.recordAttempts([record(delivery, `att_${i}`, 200, "succeeded", null)])));
        expect(statements()).toBe(1);
        expect((await store.countDeliveries()).succeeded).toBe(50);
      } finally {
        await sql.end();
      }
    });

    it("fails only the recordAttempts call whose attempt it cannot store; the others written with it are recorded", async () => {
      const { sql, store } = await counted("INSERT INTO attempts");
      try {
        const webhook = makeWebhook("acme");
        await store.createWebhook(webhook);
        const items = Array.from({ length: 5 }, (_, i) => ({ event: makeEvent("acme", `evt_nul_${i}`), webhooks: [webhook] }));
        const opened = (await store.openDeliveries(items, Date.now())).flat();
        const records = opened.map((delivery, i) => record(delivery, `att_nul_${i}`, 200, "succeeded", null));
        records[2]!.attempt.responseBody = "ok\u0000"; // text PostgreSQL cannot hold
        const outcomes = await Promise.allSettled(records.map((r) => store.recordAttempts([r])));
        expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
        expect((outcomes[2] as PromiseRejectedResult).reason.status).toBe(422);
        expect((await store.countDeliveries()).succeeded).toBe(4);
      } finally {
        await sql.end();
      }
    });

    it("marks events it inserts as published at acceptance, and leaves an event ingest already stored as it is", async () => {
      const { sql, store } = await counted("");
      try {
        const webhook = makeWebhook("acme");
        await store.createWebhook(webhook);
        const fresh = makeEvent("acme", "evt_fresh");
        const outboxed = makeEvent("acme", "evt_outboxed");
        await sql`INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
                  VALUES ('acme', 'evt_outboxed', 'order.created', 'ingest', ${outboxed.timestamp}, '{"kept":true}', ${T0}, NULL)`;
        await store.openDeliveries(
          [fresh, outboxed].map((event) => ({ event, webhooks: [webhook] })),
          Date.now(),
        );
        const rows = await sql<{ id: string; payload: string; accepted_at: number; published_at: number | null }[]>`
          SELECT id, payload, accepted_at, published_at FROM events ORDER BY id`;
        expect([...rows]).toEqual([
          { id: "evt_fresh", payload: fresh.payload, accepted_at: T0, published_at: T0 },
          { id: "evt_outboxed", payload: '{"kept":true}', accepted_at: T0, published_at: null },
        ]);
      } finally {
        await sql.end();
      }
    });

    it("prunes old published events that never had a delivery and keeps unpublished ones", async () => {
      const { sql, store } = await counted("");
      try {
        const old = T0 - 100 * 86_400_000;
        for (const [id, publishedAt] of [
          ["evt_published", old],
          ["evt_unpublished", null],
        ] as const)
          await sql`INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
                    VALUES ('acme', ${id}, 't', 's', 'ts', '{}', ${old}::bigint, ${publishedAt}::bigint)`;
        expect(await store.pruneFinished(old + 1, 100)).toBe(0);
        expect(await store.getEvent("acme", "evt_published")).toBeUndefined();
        expect(await store.getEvent("acme", "evt_unpublished")).toBeDefined();
      } finally {
        await sql.end();
      }
    });

    it("keeps a delivery's state when the same attempts are written twice (a retried write)", async () => {
      const { sql, store } = await counted("");
      try {
        const webhook = makeWebhook("acme");
        await store.createWebhook(webhook);
        const [[delivery]] = (await store.openDeliveries([{ event: makeEvent("acme", "evt_1"), webhooks: [webhook] }], Date.now())) as [[Delivery]];
        const once = record(delivery, "att_once", 500, "failed", T0 + 1000);
        await store.recordAttempts([once]);
        await store.recordAttempts([once]);
        expect(await store.listAttempts(delivery.id)).toHaveLength(1);
        expect(await store.getDelivery("acme", delivery.id)).toMatchObject({ status: "failed", attemptCount: 1, nextAttemptAt: T0 + 1000 });
      } finally {
        await sql.end();
      }
    });

    it("answers a database it cannot reach with a retryable 503 UnavailableError", async () => {
      const sql = createPool({ url: "postgres://hookrelay@127.0.0.1:1/hookrelay", maxConnections: 1, connectTimeoutSeconds: 2 });
      try {
        const store = new PostgresStore(sql);
        const err = await store.getUser("admin").catch((e) => e);
        expect(err).toBeInstanceOf(UnavailableError);
        expect(err.status).toBe(503);
        expect(
          await store.ping().then(
            () => "up",
            () => "down",
          ),
        ).toBe("down");
      } finally {
        await sql.end({ timeout: 1 });
      }
    });
  });

  describe("PostgreSQL migrations", () => {
    async function migrated(): Promise<{ schema: string; sql: Sql }> {
      const { schema, url } = await freshSchema();
      return { schema, sql: createPool({ url, maxConnections: 2 }) };
    }

    it("shows every migration pending, creates every table on up, and applies nothing the second time", async () => {
      const { schema, sql } = await migrated();
      try {
        expect(await migrationStatus(sql)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, appliedAt: null })));
        expect((await migrateUp(sql)).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
        expect(await tables(schema)).toEqual(TABLES);
        for (const status of await migrationStatus(sql)) expect(Number.isNaN(Date.parse(status.appliedAt!))).toBe(false);
        expect(await migrateUp(sql)).toEqual([]);
      } finally {
        await sql.end();
      }
    });

    it("reverts on down, then has nothing to revert, and migrates up again to a working schema", async () => {
      const { schema, sql } = await migrated();
      try {
        await migrateUp(sql);
        while (await migrateDown(sql)) {}
        expect(await tables(schema)).toEqual([]);
        expect(await migrateDown(sql)).toBeUndefined();
        expect(await migrateUp(sql)).toHaveLength(MIGRATIONS.length);
        const store = new PostgresStore(sql);
        const webhook = makeWebhook("acme");
        await store.createWebhook(webhook);
        expect(await store.getWebhook("acme", webhook.id)).toEqual(webhook);
      } finally {
        await sql.end();
      }
    });

    it("applies each migration once when several processes migrate at the same time", async () => {
      const { schema, url } = await freshSchema();
      const pools = [1, 2, 3, 4].map(() => createPool({ url, maxConnections: 1 }));
      try {
        const results = await Promise.all(pools.map((sql) => migrateUp(sql)));
        expect(
          results
            .flat()
            .map((m) => m.version)
            .sort((a, b) => a - b),
        ).toEqual(MIGRATIONS.map((m) => m.version)); // each once, by whichever process got to it
        expect(await tables(schema)).toEqual(TABLES);
      } finally {
        await Promise.all(pools.map((sql) => sql.end()));
      }
    });

    it("creates the hot-path and retention indexes", async () => {
      const { schema, sql } = await migrated();
      try {
        await migrateUp(sql);
        const rows = await admin<{ indexname: string }[]>`SELECT indexname FROM pg_indexes WHERE schemaname = ${schema}`;
        expect(rows.map((r) => r.indexname)).toEqual(
          expect.arrayContaining([
            "deliveries_by_pair",
            "deliveries_by_customer",
            "deliveries_by_customer_status",
            "deliveries_by_webhook_status",
            "deliveries_finished_by_updated",
            "deliveries_failing_by_updated",
            "replays_by_delivery",
            "attempts_by_delivery_number",
            "deliveries_unfinished_by_due",
            "attempts_by_created",
            "events_unpublished",
            "events_by_seq",
            "deliveries_fifo_unfinished",
            "deliveries_fifo_by_seq",
          ]),
        );
      } finally {
        await sql.end();
      }
    });
  });

  describe("hookrelay migrate on PostgreSQL", () => {
    async function cli(url: string, action: string): Promise<{ code: number; out: string; err: string }> {
      const child = Bun.spawn(["bun", "src/cli/main.ts", "migrate", action], {
        cwd: ROOT,
        env: { ...process.env, DATABASE_URL: url },
        stdout: "pipe",
        stderr: "pipe",
      });
      const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
      return { code, out: out.trim(), err: err.trim() };
    }

    it("reports, applies and reverts the schema of the database in DATABASE_URL", async () => {
      const { schema, url } = await freshSchema();
      const pending = await cli(url, "status");
      expect(pending).toMatchObject({
        code: 0,
        out: "1_init\tpending\n2_accounts\tpending\n3_operator_reads\tpending\n4_delivery_state\tpending\n5_webhook_health\tpending\n6_ordering\tpending\n7_secret_rotation\tpending\n8_event_lists\tpending\n9_event_types\tpending\n10_recovery_jobs\tpending",
      });
      expect(await cli(url, "up")).toMatchObject({
        code: 0,
        out: "applied 1_init\napplied 2_accounts\napplied 3_operator_reads\napplied 4_delivery_state\napplied 5_webhook_health\napplied 6_ordering\napplied 7_secret_rotation\napplied 8_event_lists\napplied 9_event_types\napplied 10_recovery_jobs",
      });
      expect(await tables(schema)).toEqual(TABLES);
      expect((await cli(url, "up")).out).toBe("nothing to apply");
      const applied = await cli(url, "status");
      expect(applied.code).toBe(0);
      expect(applied.out).toMatch(
        /^1_init\tapplied \d{4}-\d\d-\d\dT.*\n2_accounts\tapplied \d{4}-.*\n3_operator_reads\tapplied \d{4}-.*\n4_delivery_state\tapplied \d{4}-.*\n5_webhook_health\tapplied \d{4}-.*\n6_ordering\tapplied \d{4}-.*\n7_secret_rotation\tapplied \d{4}-.*\n8_event_lists\tapplied \d{4}-.*\n9_event_types\tapplied \d{4}-.*\n10_recovery_jobs\tapplied \d{4}-/s,
      );
      // down reverts the newest only, one at a time.
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 10_recovery_jobs" });
      expect(await tables(schema)).toEqual(TABLES.filter((t) => t !== "recovery_jobs"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 9_event_types" });
      expect(await tables(schema)).toEqual(TABLES.filter((t) => t !== "event_types" && t !== "recovery_jobs"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 8_event_lists" });
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 7_secret_rotation" });
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 6_ordering" });
      expect(await tables(schema)).toEqual(TABLES.filter((t) => t !== "event_types" && t !== "recovery_jobs"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 5_webhook_health" });
      expect(await tables(schema)).toEqual(TABLES.filter((t) => t !== "operational_events" && t !== "event_types" && t !== "recovery_jobs"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 4_delivery_state" });
      const before5 = TABLES.filter((t) => t !== "operational_events" && t !== "event_types" && t !== "recovery_jobs");
      expect(await tables(schema)).toEqual(before5);
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 3_operator_reads" });
      expect(await tables(schema)).toEqual(before5.filter((t) => t !== "replays"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 2_accounts" });
      expect(await tables(schema)).toEqual(before5.filter((t) => t !== "replays" && t !== "api_keys"));
      expect(await cli(url, "down")).toMatchObject({ code: 0, out: "reverted 1_init" });
      expect(await tables(schema)).toEqual([]);
      expect((await cli(url, "down")).out).toBe("nothing to revert");
    }, 30_000);

    it("fails with a message and exit code 1 when the database cannot be reached", async () => {
      const result = await cli("postgres://hookrelay@127.0.0.1:1/hookrelay", "status");
      expect(result.code).toBe(1);
      expect(result.err).toContain("hookrelay migrate status:");
    }, 30_000);
  });
}
