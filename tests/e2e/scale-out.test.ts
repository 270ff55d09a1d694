// Production mode as separate processes: gateway, ingest, two dispatchers sharing the
// Kafka partitions, retry and observability; then a dispatcher killed mid-run.
import { afterAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { adminToken, client, freePort, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { portsAndEnv } from "../helpers/process.ts";
import { eventIdOf, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const WEBHOOKS = 20;
const EVENTS = 10_000;
const procs: Subprocess[] = [];
afterAll(() => {
  for (const p of procs) p.kill(9);
});

function spawnRole(role: string, env: Record<string, string>): Subprocess {
  const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", ...env }, stdout: "ignore", stderr: "inherit" });
  procs.push(proc);
  return proc;
}

const healthy = (port: number) =>
  fetch(`http://127.0.0.1:${port}/health`).then(
    (r) => r.ok,
    () => false,
  );

/** A number a role's /metrics reports (0 when absent or unreachable). */
async function metric(port: number, name: string): Promise<number> {
  const text = await fetch(`http://127.0.0.1:${port}/metrics`).then(
    (r) => r.text(),
    () => "",
  );
  return Number(new RegExp(`^${name} (\\d+)`, "m").exec(text)?.[1] ?? 0);
}

if (MODES.includes("production"))
  describe("scale-out (production)", () => {
    it(`six processes deliver ${EVENTS} events to ${WEBHOOKS} webhooks, each once; a killed dispatcher's partitions move to the other`, async () => {
      const { ports, env } = portsAndEnv({ ...(await modeEnv("production")), HOOKRELAY_KAFKA_PARTITIONS: "8", HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error" });
      const secondDispatcherPort = freePort();
      spawnRole("gateway", env);
      await waitFor("gateway", () => healthy(ports.gateway), 30_000, 100);
      spawnRole("ingest", env);
      const dispatcherA = spawnRole("dispatcher", env);
      const dispatcherB = spawnRole("dispatcher", { ...env, HOOKRELAY_SERVER_DISPATCHER_PORT: String(secondDispatcherPort) });
      spawnRole("retry", env);
      spawnRole("observability", env);
      for (const port of [ports.ingest, ports.dispatcher, secondDispatcherPort, ports.retry, ports.observability]) await waitFor(`role on ${port}`, () => healthy(port), 30_000, 100);
      // A stable group first: a rebalance while deliveries are in flight re-reads them (duplicates, never loss).
      const assigned = () => Promise.all([ports.dispatcher, secondDispatcherPort].map((p) => metric(p, "webhook_event_log_partitions_assigned")));
      await waitFor(
        "8 partitions split between the two dispatchers",
        async () => {
          const [a, b] = await assigned();
          return a! > 0 && b! > 0 && a! + b! === 8;
        },
        60_000,
        250,
      );

      const receiver = startReceiver();
      try {
        const token = await adminToken(`http://127.0.0.1:${ports.gateway}`);
        const api = client(`http://127.0.0.1:${ports.gateway}`, token);
        for (let w = 0; w < WEBHOOKS; w++) expect((await api("POST", "/api/v1/webhooks", { url: receiver.url(`/w${w}`), event_types: [`scale.t${w}`] })).status).toBe(201);
        const ingest = client(`http://127.0.0.1:${ports.ingest}`, token);
        const send = async (from: number, count: number) => {
          for (let i = from; i < from + count; i += 500) {
            const events = Array.from({ length: Math.min(500, from + count - i) }, (_, j) => ({ id: `scale_${i + j}`, type: `scale.t${(i + j) % WEBHOOKS}`, source: "t", data: { n: i + j } }));
            const res = await ingest("POST", "/events/batch", { events });
            expect(res).toMatchObject({ status: 202, body: { accepted: events.length, duplicates: 0 } });
          }
        };
        const distinct = () => new Set(receiver.received.map((r) => r.headers["webhook-id"])).size;

        // Phase 1: both dispatchers share the work; nothing is delivered twice.
        const started = Date.now();
        await send(0, EVENTS);
        await waitFor(`${EVENTS} deliveries`, () => distinct() >= EVENTS, 120_000, 100);
        const phase1Ms = Date.now() - started;
        await Bun.sleep(500);
        const phase1 = receiver.received.length;
        expect(distinct()).toBe(EVENTS);
        expect(phase1).toBe(EVENTS);
        for (const r of receiver.received) expect(r.path).toBe(`/w${Number(eventIdOf(r.body).slice(6)) % WEBHOOKS}`);
        const byDispatcher = await Promise.all([ports.dispatcher, secondDispatcherPort].map((p) => metric(p, "webhook_delivery_success_total")));
        expect(byDispatcher[0]).toBeGreaterThan(0);
        expect(byDispatcher[1]).toBeGreaterThan(0);

        // Phase 2: kill -9 one dispatcher mid-run; the other takes its partitions.
        await send(EVENTS, 5_000);
        await waitFor("phase 2 under way", () => distinct() >= EVENTS + 500, 60_000, 20);
        dispatcherA.kill(9);
        await waitFor(`all ${EVENTS + 5_000} after the kill`, () => distinct() >= EVENTS + 5_000, 120_000, 100);
        await Bun.sleep(500);
        const duplicates = receiver.received.length - distinct();
        console.log(
          `scale-out: ${EVENTS} events to ${WEBHOOKS} webhooks through 6 processes in ${phase1Ms} ms (${Math.round(EVENTS / (phase1Ms / 1000))}/s), ` +
            `split ${byDispatcher.join("/")} between the dispatchers, 0 duplicates; after kill -9 of one dispatcher: 5000 sent, all delivered, ${duplicates} duplicates`,
        );
        void dispatcherB;
      } finally {
        receiver.stop();
      }
    }, 300_000);
  });
