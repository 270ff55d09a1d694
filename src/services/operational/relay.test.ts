/**
 * @module The operational relay loses nothing (fast-check, on a real SQLite store and event log):
 * health changes and dead deliveries recorded in any order, some late (written up to 30 s after
 * the time they carry), relayed by turns at any spacing, with restarts of the relay in between;
 * afterwards every record made while an operational webhook existed is in the log, once.
 */
import { afterEach, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { openDatabase } from "../../adapters/sqlite/database.ts";
import { SqliteEventLog } from "../../adapters/sqlite/event-log.ts";
import { migrateUp } from "../../adapters/sqlite/migrations.ts";
import { SqliteStore } from "../../adapters/sqlite/store.ts";
import { deliveryIdFor, newId } from "../../domain/ids.ts";
import { NEW_WEBHOOK_STATE, OPERATOR_CUSTOMER_ID, type Webhook } from "../../domain/model.ts";
import { createLogger } from "../../platform/logger.ts";
import { OperationalRelay } from "./relay.ts";

const T0 = Date.parse("2026-12-05T12:00:00Z");
const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A migrated SQLite store and event log in a fresh directory (removed after the test). */
function freshStore() {
  const dataDir = mkdtempSync(join(tmpdir(), "hookrelay-relay-"));
  dirs.push(dataDir);
  const db = openDatabase({ dataDir, synchronous: "NORMAL" });
  migrateUp(db);
  return { db, store: new SqliteStore(db), eventLog: new SqliteEventLog(db) };
}

/** The operator's operational webhook, made at `ms`. */
function operationalWebhook(ms: number): Webhook {
  const at = new Date(ms).toISOString();
  return {
    id: "wh_ops",
    customerId: OPERATOR_CUSTOMER_ID,
    url: "https://ops.example",
    eventTypes: ["*"],
    headers: {},
    description: null,
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    status: "active",
    ...NEW_WEBHOOK_STATE,
    createdAt: at,
    updatedAt: at,
  };
}

type Step = { kind: "record"; what: "change" | "death"; late: number } | { kind: "turn" } | { kind: "restart" } | { kind: "wait"; ms: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("record" as const), what: fc.constantFrom("change" as const, "death" as const), late: fc.integer({ min: 0, max: 30_000 }) }) },
  { weight: 3, arbitrary: fc.constant({ kind: "turn" as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: "restart" as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("wait" as const), ms: fc.integer({ min: 0, max: 40_000 }) }) },
);

describe("OperationalRelay", () => {
  it("appends every health change and dead delivery recorded while an operational webhook exists, late ones and across restarts included (generated)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        const { db, store, eventLog } = freshStore();
        try {
          let now = T0;
          const deps = { store, eventLog, clock: { now: () => now }, log: createLogger("silent") };
          await store.createWebhook(operationalWebhook(T0));
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
                db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, 'acme', 'wh_a', 'webhook.paused', 'r', ?)", [id, time]);
                expected.push(id);
              } else {
                const id = deliveryIdFor("acme", `evt_${n}`, "wh_a", time);
                db.run("INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, created_at, updated_at) VALUES (?, 'acme', ?, 'wh_a', 'dead', 3, ?, ?)", [
                  id,
                  `evt_${n}`,
                  time,
                  time,
                ]);
                expected.push(`dead_${id}_3`);
              }
            }
          }
          // Then the relay keeps running (a turn a second) for a while.
          for (let i = 0; i < 70; i++) {
            now += 1000;
            await relay.relay();
          }
          const appended = db
            .query<{ id: string }, [string]>("SELECT id FROM events WHERE customer_id = ? ORDER BY seq")
            .all(OPERATOR_CUSTOMER_ID)
            .map((r) => r.id);
          expect([...expected].sort()).toEqual([...new Set(appended)].sort());
          expect(appended.length).toBe(new Set(appended).size);
        } finally {
          db.close();
        }
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it("appends nothing while no operational webhook exists, and only what happens after one is made", async () => {
    const { db, store, eventLog } = freshStore();
    let now = T0;
    const relay = new OperationalRelay({ store, eventLog, clock: { now: () => now }, log: createLogger("silent") }, 1000);
    db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, 'acme', 'wh_a', 'webhook.paused', 'r', ?)", [newId("ope", T0), T0]);
    await relay.relay();
    now += 120_000;
    await relay.relay();
    await store.createWebhook(operationalWebhook(now));
    const later = newId("ope", now + 10);
    db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, 'acme', 'wh_a', 'webhook.resumed', 'r', ?)", [later, now + 10]);
    now += 1000;
    await relay.relay();
    expect(
      db
        .query<{ id: string }, []>("SELECT id FROM events")
        .all()
        .map((r) => r.id),
    ).toEqual([later]);
    db.close();
  });
});
