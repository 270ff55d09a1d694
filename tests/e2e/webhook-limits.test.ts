// A webhook's own limits over real sockets: `rate_limit` holds within 10% and `max_in_flight` is
// never exceeded, over one process (embedded) and over several delivering processes sharing Redis
// (production: gateway, ingest, two dispatchers and two retry managers, each its own process: what
// a dispatcher may not send now is parked in the store and sent by a retry manager when due).
// Nothing over a limit is dropped: every event arrives.
import { afterAll, describe, expect, it } from "bun:test";
import { adminToken, client, freePort, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes, type Mode } from "../helpers/modes.ts";
import { childInstance, portsAndEnv, spawnRole } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const RATE = 20;
/**
 * A burst of 2: a bucket of one token loses every moment a turn is taken late (a retry claimed a
 * poll after it came due), and held the rate 7-8% under its limit here; with a token to spare it
 * catches up.
 */
const BURST = 2;
const EVENTS = 100;

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups) cleanup();
});

interface Cluster {
  gateway: string;
  /** Each delivering process's /metrics. */
  metrics: string[];
}

async function startCluster(mode: Mode): Promise<Cluster> {
  const env = { ...(await modeEnv(mode)), HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms", HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error" };
  if (mode === "embedded") {
    const hr = childInstance(env);
    cleanups.push(() => hr.proc?.kill(9));
    await hr.start();
    return { gateway: hr.gateway, metrics: [`http://127.0.0.1:${hr.env.HOOKRELAY_SERVER_DISPATCHER_PORT}/metrics`] };
  }
  const { ports, env: roleEnv } = portsAndEnv(env);
  const spawn = async (role: string, extra: Record<string, string> = {}, port = ports[role as keyof typeof ports]) => {
    const { proc } = await spawnRole(role, { ...roleEnv, ...extra }, port);
    cleanups.push(() => proc.kill(9));
  };
  await spawn("gateway"); // migrates and creates the topic first
  // Two of each delivering role: a delivery over the limit is parked and comes back through a retry manager.
  const [dispatcher2, retry2] = [freePort(), freePort()];
  await Promise.all([
    spawn("ingest"),
    spawn("dispatcher"),
    spawn("dispatcher", { HOOKRELAY_SERVER_DISPATCHER_PORT: String(dispatcher2) }, dispatcher2),
    spawn("retry"),
    spawn("retry", { HOOKRELAY_SERVER_RETRY_PORT: String(retry2) }, retry2),
  ]);
  return {
    gateway: `http://127.0.0.1:${ports.gateway}`,
    metrics: [ports.dispatcher, dispatcher2, ports.retry, retry2].map((p) => `http://127.0.0.1:${p}/metrics`),
  };
}

/** Attempts each delivering process made, from its /metrics. */
async function attemptsBy(cluster: Cluster): Promise<number[]> {
  return Promise.all(
    cluster.metrics.map(async (url) => {
      const text = await (await fetch(url)).text();
      return [...text.matchAll(/^webhook_delivery_attempts_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
    }),
  );
}

describe.each(MODES)("a webhook's own limits (%s)", (mode) => {
  let cluster: Cluster;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  it("starts", async () => {
    cluster = await startCluster(mode);
    rx = startReceiver();
    cleanups.push(() => rx.stop());
    api = client(cluster.gateway, await adminToken(cluster.gateway));
  }, 60_000);

  it("refuses a rate limit or in-flight limit out of bounds, naming the field", async () => {
    for (const body of [
      { rate_limit: { per_second: 0 } },
      { rate_limit: { per_second: 10_001 } },
      { rate_limit: { per_second: 5, burst: 0 } },
      { rate_limit: 5 },
      { max_in_flight: 0 },
      { max_in_flight: 1.5 },
    ]) {
      const res = await api("POST", "/api/v1/webhooks", { url: rx.url("/x"), event_types: ["x"], ...body });
      expect(res.status).toBe(422);
      expect(res.body.error.message).toContain(Object.keys(body)[0]!);
    }
    const made = await api("POST", "/api/v1/webhooks", { url: rx.url("/x"), event_types: ["x"], rate_limit: { per_second: 2.5 } });
    expect(made.body).toMatchObject({ rate_limit: { per_second: 2.5, burst: 3 }, max_in_flight: null });
    expect((await api("PATCH", `/api/v1/webhooks/${made.body.id}`, { rate_limit: null, max_in_flight: 4 })).body).toMatchObject({ rate_limit: null, max_in_flight: 4 });
  });

  it(`holds a webhook to its rate_limit (${RATE}/s) within 10%, every event delivered`, async () => {
    const arrivals: number[] = [];
    rx.onPath("/limited", () => {
      arrivals.push(Date.now());
      return new Response("ok");
    });
    const hook = await api("POST", "/api/v1/webhooks", { url: rx.url("/limited"), event_types: ["limits.rate"], rate_limit: { per_second: RATE, burst: BURST } });
    expect(hook.status).toBe(201);
    await Bun.sleep(300);
    const before = await attemptsBy(cluster);
    const ids = Array.from({ length: EVENTS }, (_, i) => `evt_rate_${i}`);
    expect((await api("POST", "/api/v1/events/batch", { events: ids.map((id) => ({ id, type: "limits.rate", source: "t", data: {} })) })).status).toBe(202);
    await waitFor(
      () => `all ${EVENTS} delivered (${new Set(rx.received.filter((r) => r.path === "/limited").map((r) => eventIdOf(r.body))).size})`,
      () => new Set(rx.received.filter((r) => r.path === "/limited").map((r) => eventIdOf(r.body))).size === EVENTS,
      60_000,
      100,
    );
    const spanMs = arrivals.at(-1)! - arrivals[0]!;
    const rate = ((arrivals.length - 1) / spanMs) * 1000;
    // Over any one second, no more than the rate and the burst, and what a late send adds: the
    // bucket grants turns evenly, but a send that waited (a process stalled by the machine's other
    // work; 2 cores here run PostgreSQL, Kafka and six processes) lands in the next turn's second.
    // 250 ms of such lateness is 5 turns; a limit not shared by the 4 processes would show ~80.
    let busiest = 0;
    for (let i = 0, j = 0; i < arrivals.length; i++) {
      while (arrivals[i]! - arrivals[j]! >= 1000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    const by = (await attemptsBy(cluster)).map((n, i) => n - before[i]!);
    const figures = `rate limit (${mode}): ${EVENTS} deliveries over ${(spanMs / 1000).toFixed(1)} s = ${rate.toFixed(2)}/s (limit ${RATE}/s), busiest second ${busiest}; attempts by process ${by.join(", ")}; ${arrivals.length} requests`;
    console.log(figures);
    expect(rate, figures).toBeLessThanOrEqual(RATE * 1.1);
    expect(rate, figures).toBeGreaterThanOrEqual(RATE * 0.9);
    expect(busiest, figures).toBeLessThanOrEqual(RATE * 1.25 + BURST);
    expect(arrivals.length, figures).toBe(EVENTS); // each once
    // Production: several processes sent a good share each, so the limit held across them.
    if (mode === "production") expect(by.filter((n) => n >= EVENTS / 10).length, figures).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it("never has more of a webhook's requests in flight than its max_in_flight, every event delivered", async () => {
    let inFlight = 0;
    let most = 0;
    rx.onPath("/narrow", async () => {
      most = Math.max(most, ++inFlight);
      await Bun.sleep(150);
      inFlight--;
      return new Response("ok");
    });
    const hook = await api("POST", "/api/v1/webhooks", { url: rx.url("/narrow"), event_types: ["limits.slots"], max_in_flight: 3 });
    expect(hook.status).toBe(201);
    await Bun.sleep(300);
    const ids = Array.from({ length: 40 }, (_, i) => `evt_slots_${i}`);
    expect((await api("POST", "/api/v1/events/batch", { events: ids.map((id) => ({ id, type: "limits.slots", source: "t", data: {} })) })).status).toBe(202);
    await waitFor("all 40 delivered", () => new Set(rx.received.filter((r) => r.path === "/narrow").map((r) => eventIdOf(r.body))).size === 40, 60_000, 100);
    console.log(`max_in_flight (${mode}): at most ${most} requests at once (limit 3)`);
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2); // the limit, not something else, held it
  }, 90_000);
});
