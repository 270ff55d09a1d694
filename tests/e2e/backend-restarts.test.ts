// Production backends restarted under a steady stream of events: Redis, then PostgreSQL, then
// the Kafka broker, one at a time. /health says 503 naming the dependency while it is away,
// hookrelay recovers on its own, and every event answered 202 is delivered.
import { afterAll, describe, expect, it } from "bun:test";
import { type ServiceName, startAgain, stopKeepingData } from "../../scripts/services/index.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const BATCH = 50;
const MIN_BATCHES = 20;
const BATCH_EVERY_MS = 1_500;
/** How long each service stays down at least, once every dependent role has said so. */
const HOLD_DOWN_MS = 3_000;

type Role = "gateway" | "ingest" | "dispatcher" | "retry" | "observability";
type Check = "store" | "retry_schedule" | "event_log";

const STORE_ROLES: Role[] = ["gateway", "dispatcher", "retry", "observability"];
const SCHEDULE_ROLES: Role[] = ["gateway", "dispatcher", "retry", "observability"];
const EVENT_LOG_ROLES: Role[] = ["gateway", "ingest", "dispatcher", "observability"];
/** What each restart takes away, and which roles' /health must name it (src/cli/compose.ts `checks`). */
const OUTAGES: { service: ServiceName; named: [Check, Role[]][] }[] = [
  { service: "redis", named: [["retry_schedule", SCHEDULE_ROLES]] },
  // The event log's outbox is in PostgreSQL: without it ingest accepts nothing, and says so.
  {
    service: "postgres",
    named: [
      ["store", STORE_ROLES],
      ["event_log", EVENT_LOG_ROLES],
    ],
  },
  { service: "kafka", named: [["event_log", EVENT_LOG_ROLES]] },
];
const ROLES: Role[] = ["gateway", "ingest", "dispatcher", "retry", "observability"];

let hr: ChildInstance | undefined;
let receiver: Receiver | undefined;
const heldDown = new Set<ServiceName>();
afterAll(async () => {
  // Our own processes first, so a slow restart below can never leave them running.
  hr?.proc?.kill(9);
  receiver?.stop();
  // A failed assertion mid-outage must not leave the shared services down for the next file.
  for (const service of heldDown) await startAgain(service, () => {}).catch((err) => console.error(`could not start ${service} again: ${err}`));
}, 120_000);

interface Health {
  status: number;
  failing: string[];
}
async function health(port: number): Promise<Health> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
    const body = (await res.json().catch(() => ({}))) as { failing?: string[] };
    return { status: res.status, failing: body.failing ?? [] };
  } catch (err) {
    return { status: 0, failing: [String(err)] };
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

if (MODES.includes("production"))
  describe("backend restarts (production)", () => {
    it("Redis, PostgreSQL and the Kafka broker restart one at a time under load: /health names each while it is down, hookrelay recovers alone, nothing accepted is lost", async () => {
      receiver = startReceiver();
      const rx = receiver;
      // /flaky fails each event's first attempt, so every event also goes through the Redis retry schedule.
      const firstSeen = new Set<string>();
      rx.onPath("/flaky", (req) => {
        const id = req.headers["webhook-id"]!;
        if (firstSeen.has(id)) return new Response("ok");
        firstSeen.add(id);
        return new Response("first attempt fails", { status: 500 });
      });

      hr = childInstance({
        ...(await modeEnv("production")),
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "200ms",
        HOOKRELAY_RETRY_MANAGER_MAX_DELAY: "5s",
        HOOKRELAY_RETRY_MANAGER_LEASE: "10s",
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "5s",
        HOOKRELAY_KAFKA_PRODUCE_TIMEOUT: "2s",
        HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error",
      });
      const instance = hr;
      const port = (role: Role) => Number(instance.env[`HOOKRELAY_SERVER_${role.toUpperCase()}_PORT`]);
      await instance.start();
      const token = await adminToken(instance.gateway);
      const api = client(instance.gateway, token);
      for (const path of ["/ok", "/flaky"]) expect((await api("POST", "/api/v1/webhooks", { url: rx.url(path), event_types: ["restart.test"] })).status).toBe(201);

      // The stream: a batch of 50 new events every 1.5 s until the last outage is over (20 batches at least).
      const accepted = new Set<string>();
      const refused = new Set<string>();
      const refusals: string[] = [];
      let batches = 0;
      let streaming = true;
      /** The service down right now, if any; per service, the batches [accepted, refused] while it was. */
      let down: ServiceName | undefined;
      const duringOutage = new Map<ServiceName, [number, number]>();
      const tally = (service: ServiceName | undefined, ok: boolean) => {
        if (!service) return;
        const [a, r] = duringOutage.get(service) ?? [0, 0];
        duringOutage.set(service, ok ? [a + 1, r] : [a, r + 1]);
      };
      const stream = (async () => {
        while (streaming || batches < MIN_BATCHES) {
          const began = Date.now();
          const n = batches++;
          const downWhenSent = down;
          const events = Array.from({ length: BATCH }, (_, j) => ({ id: `rst_${n}_${j}`, type: "restart.test", source: "t", data: { n, j } }));
          try {
            const res = await fetch(`${instance.ingest}/events/batch`, {
              method: "POST",
              headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
              body: JSON.stringify({ events }),
              signal: AbortSignal.timeout(20_000),
            });
            const body = (await res.json().catch(() => null)) as { accepted?: number; error?: { code: string } } | null;
            const ok = res.status === 202 && body?.accepted === BATCH;
            if (ok) for (const e of events) accepted.add(e.id);
            else {
              for (const e of events) refused.add(e.id);
              refusals.push(`${res.status} ${body?.error?.code ?? JSON.stringify(body)}`);
            }
            tally(downWhenSent ?? down, ok);
          } catch (err) {
            for (const e of events) refused.add(e.id);
            refusals.push((err as Error).name);
            tally(downWhenSent ?? down, false);
          }
          await Bun.sleep(Math.max(0, BATCH_EVERY_MS - (Date.now() - began)));
        }
      })();

      const succeededAt = (path: string) => {
        const ids = new Set<string>();
        const seen = new Set<string>();
        for (const r of rx.received) {
          if (r.path !== path) continue;
          const id = eventIdOf(r.body);
          // /flaky answers 500 to the first request for an id and 200 to every later one.
          if (path === "/ok" || seen.has(id)) ids.add(id);
          seen.add(id);
        }
        return ids;
      };
      const allDelivered = (ids: Iterable<string>) => {
        const ok = succeededAt("/ok");
        const flaky = succeededAt("/flaky");
        for (const id of ids) if (!ok.has(id) || !flaky.has(id)) return false;
        return true;
      };

      await waitFor("the first batches delivered before any restart", () => accepted.size >= 2 * BATCH && allDelivered(accepted), 30_000, 100);

      const timings: string[] = [];
      for (const { service, named } of OUTAGES) {
        const stopAt = Date.now();
        heldDown.add(service);
        down = service;
        await stopKeepingData(service, () => {});
        const downAt = Date.now();

        // Every role depending on it answers 503 naming it; the others do not name it.
        const seen = new Map<string, string>();
        const wanted = named.flatMap(([check, roles]) => roles.map((role) => ({ check, role, key: `${role} ${check}` })));
        await waitFor(
          `/health to name ${named.map(([c, r]) => `${c} on ${r.join(", ")}`).join("; ")} while ${service} is down`,
          async () => {
            for (const role of ROLES) {
              if (wanted.every((w) => w.role !== role || seen.has(w.key))) continue;
              const h = await health(port(role));
              for (const w of wanted.filter((w) => w.role === role)) {
                const entry = h.failing.find((f) => f.startsWith(`${w.check}:`));
                if (h.status === 503 && entry) seen.set(w.key, entry);
              }
            }
            return seen.size === wanted.length;
          },
          20_000,
          200,
        );
        const reportedMs = Date.now() - downAt;
        for (const [check, roles] of named)
          for (const role of ROLES.filter((r) => !roles.includes(r))) {
            const h = await health(port(role));
            expect({ role, failing: h.failing.filter((f) => f.startsWith(`${check}:`)) }).toEqual({ role, failing: [] });
          }
        await Bun.sleep(Math.max(0, HOLD_DOWN_MS - (Date.now() - downAt)));

        const startAt = Date.now();
        await startAgain(service, () => {});
        heldDown.delete(service);
        down = undefined;
        const upAt = Date.now();
        // Recovery without a restart of hookrelay: every role healthy again, and a batch sent after it delivered.
        await waitFor(`every role healthy after ${service} came back`, async () => (await Promise.all(ROLES.map((r) => health(port(r))))).every((h) => h.status === 200), 60_000, 200);
        const healthyAt = Date.now();
        expect(instance.proc.exitCode).toBeNull();
        const batchAfter = batches;
        await waitFor(
          `a batch sent after ${service} recovered to be delivered`,
          () => {
            const after = [...accepted].filter((id) => Number(id.split("_")[1]) >= batchAfter);
            return after.length > 0 && allDelivered(after);
          },
          60_000,
          100,
        );
        const flowingAt = Date.now();
        timings.push(
          `${service}: stopped in ${seconds(downAt - stopAt)}, /health named it within ${seconds(reportedMs)} ` +
            `(${named.map(([check, roles]) => `${check} on ${roles.length} roles, e.g. "${seen.get(`${roles[0]} ${check}`)}"`).join("; ")}), down ${seconds(upAt - downAt)} (start ${seconds(upAt - startAt)}), ` +
            `all healthy ${seconds(healthyAt - upAt)} after it answered, new events delivered ${seconds(flowingAt - upAt)} after`,
        );
      }

      streaming = false;
      await stream;
      const sent = batches * BATCH;
      await waitFor(`all ${accepted.size} accepted events at both webhooks`, () => allDelivered(accepted), 90_000, 200);
      await Bun.sleep(1_000); // late duplicates, if any, arrive now

      const ok = succeededAt("/ok");
      const flaky = succeededAt("/flaky");
      const lost = [...accepted].filter((id) => !ok.has(id) || !flaky.has(id));
      const okRequests = rx.received.filter((r) => r.path === "/ok").length;
      const flakyRequests = rx.received.filter((r) => r.path === "/flaky").length;
      const okIds = new Set(rx.received.filter((r) => r.path === "/ok").map((r) => eventIdOf(r.body)));
      const flakyIds = new Set(rx.received.filter((r) => r.path === "/flaky").map((r) => eventIdOf(r.body)));
      // Expected: one request per event at /ok, two (the failing first attempt and its retry) at /flaky.
      const duplicates = okRequests - okIds.size + (flakyRequests - 2 * flakyIds.size);
      const refusedDelivered = [...refused].filter((id) => okIds.has(id)).length;
      console.log(
        `backend restarts: ${sent} events sent in ${batches} batches, ${accepted.size} accepted (202), ${refused.size} refused while a backend was down ` +
          `[${refusals.join(", ")}], ${ok.size} delivered to /ok and ${flaky.size} to /flaky (after a failed first attempt each), ` +
          `${duplicates} duplicates, ${lost.length} lost; ${refusedDelivered} refused events delivered anyway; ` +
          `batches answered while down (accepted/refused): ${[...duringOutage].map(([s, [a, r]]) => `${s} ${a}/${r}`).join(", ")}\n  ${timings.join("\n  ")}`,
      );
      expect(lost).toEqual([]);
      // The store agrees: every delivery of every delivered event succeeded, none pending, failed or left on the retry schedule.
      const expected = { deliveries: { pending: 0, failed: 0, dead: 0, succeeded: 2 * okIds.size }, retry_queue_depth: 0 };
      const observability = client(`http://127.0.0.1:${port("observability")}`, token);
      let recorded: unknown;
      await waitFor(
        "the store to record every delivery succeeded",
        async () => {
          const stats = await observability("GET", "/api/stats");
          recorded = { deliveries: stats.body?.deliveries, retry_queue_depth: stats.body?.retry_queue_depth };
          return Bun.deepEquals(recorded, expected);
        },
        30_000,
        250,
      ).catch(() => {});
      expect(recorded).toEqual(expected);
    }, 240_000);
  });
