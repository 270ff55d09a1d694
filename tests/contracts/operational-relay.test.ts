/**
 * @module The operational relay loses nothing (fast-check), in both deployments: on a real SQLite
 * store and event log, and on a real PostgreSQL store with the Kafka event log (its PostgreSQL
 * outbox keeps each id once). Health changes and dead deliveries are recorded in any order, some
 * late (written up to 30 s after the time they carry), relayed by turns at any spacing, with
 * restarts of the relay in between; afterwards every record made while an operational webhook
 * existed is in the log, once.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { KafkaEventLog } from "../../src/adapters/kafka/event-log.ts";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { migrateUp as migratePostgres } from "../../src/adapters/postgres/migrations.ts";
import { PostgresOutbox } from "../../src/adapters/postgres/outbox.ts";
import { PostgresStore } from "../../src/adapters/postgres/store.ts";
import { openDatabase } from "../../src/adapters/sqlite/database.ts";
import { SqliteEventLog } from "../../src/adapters/sqlite/event-log.ts";
import { migrateUp as migrateSqlite } from "../../src/adapters/sqlite/migrations.ts";
import { SqliteStore } from "../../src/adapters/sqlite/store.ts";
import { deliveryIdFor, newId } from "../../src/domain/ids.ts";
import { OPERATOR_CUSTOMER_ID, type Webhook } from "../../src/domain/model.ts";
import type { EventLog, Store } from "../../src/domain/ports.ts";
import { createLogger } from "../../src/platform/logger.ts";
import { createMetrics } from "../../src/platform/metrics.ts";
import { OperationalRelay } from "../../src/services/operational/relay.ts";
import { freshTopic, requireServices, schemaFactory, TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from "../helpers/services.ts";
import { makeWebhook } from "./store.contract.ts";

const T0 = Date.parse("2026-12-05T12:00:00Z");

/** One deployment's store and event log, with the rows a test writes directly and reads back. */
interface Backend {
  store: Store;
  eventLog: EventLog;
  /** A health change with this id, recorded with the time it carries. */
  recordChange(id: string, type: string, time: number): Promise<void>;
  /** A delivery that died, recorded with the time it carries. */
  recordDeath(id: string, eventId: string, time: number): Promise<void>;
  /** Ids of the operator customer's events in the log, in the order appended. */
  appended(): Promise<string[]>;
  /** Empty again, for the next run. */
  close(): Promise<void>;
}

/** The operator's operational webhook, made at `ms`. */
function operationalWebhook(ms: number): Webhook {
  const at = new Date(ms).toISOString();
  return makeWebhook(OPERATOR_CUSTOMER_ID, { id: "wh_ops", url: "https://ops.example", eventTypes: ["*"], headers: {}, description: null, createdAt: at, updatedAt: at });
}

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A migrated SQLite store and event log in a fresh directory. */
async function sqliteBackend(): Promise<Backend> {
  const dataDir = mkdtempSync(join(tmpdir(), "hookrelay-relay-"));
  dirs.push(dataDir);
  const db = openDatabase({ dataDir, synchronous: "NORMAL" });
  migrateSqlite(db);
  return {
    store: new SqliteStore(db),
    eventLog: new SqliteEventLog(db),
    recordChange: async (id, type, time) => {
      db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, 'acme', 'wh_a', ?, 'r', ?)", [id, type, time]);
    },
    recordDeath: async (id, eventId, time) => {
      db.run("INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, created_at, updated_at) VALUES (?, 'acme', ?, 'wh_a', 'dead', 3, ?, ?)", [id, eventId, time, time]);
    },
    appended: async () =>
      db
        .query<{ id: string }, [string]>("SELECT id FROM events WHERE customer_id = ? ORDER BY seq")
        .all(OPERATOR_CUSTOMER_ID)
        .map((r) => r.id),
    close: async () => db.close(),
  };
}

const production = requireServices("the relay on PostgreSQL and Kafka", { HOOKRELAY_TEST_DATABASE_URL: TEST_DATABASE_URL, HOOKRELAY_TEST_KAFKA_BROKERS: TEST_KAFKA_BROKERS });
const freshSchema = production ? schemaFactory(TEST_DATABASE_URL!) : undefined;

/** A migrated PostgreSQL schema of its own, and the Kafka event log on a topic of its own with its outbox there. */
async function postgresBackend(): Promise<Backend> {
  const { url } = await freshSchema!();
  const sql = createPool({ url, maxConnections: 4 });
  await migratePostgres(sql);
  const log = createLogger("silent");
  const eventLog = new KafkaEventLog(
    { brokers: TEST_KAFKA_BROKERS!, topic: freshTopic("hr-relay"), partitions: 1, clientId: "relay-test", produceTimeoutMs: 5000, republishAfterMs: 10_000 },
    new PostgresOutbox(sql),
    log,
    createMetrics(),
  );
  await eventLog.ensureTopic();
  return {
    store: new PostgresStore(sql),
    eventLog,
    recordChange: async (id, type, time) => {
      await sql`INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (${id}, 'acme', 'wh_a', ${type}, 'r', ${time})`;
    },
    recordDeath: async (id, eventId, time) => {
      await sql`INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, created_at, updated_at) VALUES (${id}, 'acme', ${eventId}, 'wh_a', 'dead', 3, ${time}, ${time})`;
    },
    appended: async () => (await sql<{ id: string }[]>`SELECT id FROM events WHERE customer_id = ${OPERATOR_CUSTOMER_ID} ORDER BY seq`).map((r) => r.id),
    close: async () => {
      await eventLog.close();
      await sql.end();
    },
  };
}

type Step = { kind: "record"; what: "change" | "death"; late: number } | { kind: "turn" } | { kind: "restart" } | { kind: "wait"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("record" as const), what: fc.constantFrom("change" as const, "death" as const), late: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: "turn" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
);

const BACKENDS: [string, () => Promise<Backend>, number][] = [["sqlite", sqliteBackend, 60]];
// Fewer runs on the servers: each makes a schema and a topic.
if (production) BACKENDS.push(["postgres and kafka", postgresBackend, 25]);

describe.each(BACKENDS)("OperationalRelay (%s)", (_, fresh, runs) => {
  it("appends every health change and dead delivery recorded while an operational webhook exists, late ones and across restarts included (generated)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const backend = await fresh();
        try {
          let now = T0;
          const deps = { store: backend.store, eventLog: backend.eventLog, clock: { now: () => now }, log: createLogger("silent") };
          await backend.store.createWebhook(operationalWebhook(T0));
          let relay = new OperationalRelay(deps, 1000);
          const expected: string[] = [];
          let n = 0;
          for (const s of steps) {
            if (s.kind === "wait") now += s.ms;
            else if (s.kind === "restart") relay = new OperationalRelay(deps, 1000);
            else if (s.kind === "turn") await relay.relay();
            else {
              // Written now, carrying a time up to 30 s earlier (a process whose clock lags), never before the webhook.
              const time = Math.max(T0, now - s.late);
              n++;
              if (s.what === "change") {
                const id = newId("ope", time);
                await backend.recordChange(id, "webhook.paused", time);
                expected.push(id);
              } else {
                const id = deliveryIdFor("acme", `evt_${n}`, "wh_a", time);
                await backend.recordDeath(id, `evt_${n}`, time);
                expected.push(`dead_${id}_3`);
              }
            }
          }
          // Then the relay keeps running (a turn a second) for a while.
          for (let i = 0; i < 70; i++) {
            now += 1000;
            await relay.relay();
          }
          const appended = await backend.appended();
          expect([...expected].sort()).toEqual([...new Set(appended)].sort());
          expect(appended.length).toBe(new Set(appended).size);
        } finally {
          await backend.close();
        }
      }),
      { numRuns: runs },
    );
  }, 120_000);

  it("relays what was recorded after the webhook was made while no relay ran for minutes, before anything was ever appended (a shrunk failure)", async () => {
    const backend = await fresh();
    try {
      let now = T0;
      await backend.store.createWebhook(operationalWebhook(T0));
      const first = newId("ope", T0);
      await backend.recordChange(first, "webhook.paused", T0);
      now += 119_002;
      const second = newId("ope", now);
      await backend.recordChange(second, "webhook.paused", now);
      const relay = new OperationalRelay({ store: backend.store, eventLog: backend.eventLog, clock: { now: () => now }, log: createLogger("silent") }, 1000);
      now += 1000;
      await relay.relay();
      expect((await backend.appended()).sort()).toEqual([first, second].sort());
    } finally {
      await backend.close();
    }
  });

  it("appends nothing while no operational webhook exists, and only what happens after one is made", async () => {
    const backend = await fresh();
    try {
      let now = T0;
      const relay = new OperationalRelay({ store: backend.store, eventLog: backend.eventLog, clock: { now: () => now }, log: createLogger("silent") }, 1000);
      await backend.recordChange(newId("ope", T0), "webhook.paused", T0);
      await relay.relay();
      now += 120_000;
      await relay.relay();
      await backend.store.createWebhook(operationalWebhook(now));
      const later = newId("ope", now + 10);
      await backend.recordChange(later, "webhook.resumed", now + 10);
      now += 1000;
      await relay.relay();
      expect(await backend.appended()).toEqual([later]);
    } finally {
      await backend.close();
    }
  });
});
