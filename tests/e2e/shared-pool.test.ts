// One delivery pool per process: in `all` mode the dispatcher (first attempts) and the retry manager
// (retries) send through the same pool, so max_in_flight_per_webhook and max_in_flight hold for the
// process as a whole, whatever the mix. Measured at a real receiver that holds every request and
// fails each event's first attempt, so first attempts and retries compete for the same slots.
import { afterAll, describe, expect, it } from "bun:test";
import type { Server } from "bun";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

/** How long the receiver holds each request, ms: long enough for requests to pile up, far below slow_endpoint (1 s). */
const HOLD_MS = 150;

/** Concurrency figures of one path at the receiver. */
interface PathStats {
  active: number;
  peak: number;
  /** Of the requests active now, how many are an event's first request (the dispatcher's) and how many later ones (retries). */
  activeFirst: number;
  activeRetry: number;
  /** The most first attempts and retries seen in flight together at one moment (both > 0). */
  peakMix: [number, number];
  requests: number;
  /** Requests per event id (webhook-id header). */
  perEvent: Map<string, number>;
}

/**
 * A receiver on 127.0.0.1 counting requests in flight per path and overall: each request is
 * counted from the moment its handler starts until just before its answer is returned (so it
 * never counts more than hookrelay has in flight), held HOLD_MS, answered 500 the first time an
 * event id reaches a path and 200 afterwards.
 */
function concurrencyReceiver() {
  const paths = new Map<string, PathStats>();
  const total = { active: 0, peak: 0 };
  const statsOf = (path: string) => {
    let s = paths.get(path);
    if (!s) {
      s = { active: 0, peak: 0, activeFirst: 0, activeRetry: 0, peakMix: [0, 0], requests: 0, perEvent: new Map() };
      paths.set(path, s);
    }
    return s;
  };
  const server: Server<undefined> = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    async fetch(request) {
      const s = statsOf(new URL(request.url).pathname);
      const id = request.headers.get("webhook-id") ?? "?";
      const n = (s.perEvent.get(id) ?? 0) + 1;
      s.perEvent.set(id, n);
      s.requests++;
      const first = n === 1;
      s.active++;
      total.active++;
      if (first) s.activeFirst++;
      else s.activeRetry++;
      s.peak = Math.max(s.peak, s.active);
      total.peak = Math.max(total.peak, total.active);
      if (s.activeFirst > 0 && s.activeRetry > 0 && s.activeFirst + s.activeRetry > s.peakMix[0] + s.peakMix[1]) s.peakMix = [s.activeFirst, s.activeRetry];
      try {
        await request.arrayBuffer();
        await Bun.sleep(HOLD_MS);
      } finally {
        s.active--;
        total.active--;
        if (first) s.activeFirst--;
        else s.activeRetry--;
      }
      return first ? new Response("first attempt fails", { status: 500 }) : new Response("ok");
    },
  });
  return {
    url: (path: string) => `http://127.0.0.1:${server.port}${path}`,
    stats: statsOf,
    total,
    /** Event ids that got a 200 at `path` (a second request). */
    delivered: (path: string) => [...statsOf(path).perEvent].filter(([, n]) => n >= 2).map(([id]) => id),
    stop: () => server.stop(true),
  };
}

const fastRetries = {
  HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
  HOOKRELAY_RETRY_MANAGER_JITTER: "0",
  HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "5",
  HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "5s",
  HOOKRELAY_RETRY_MANAGER_LEASE: "10s",
  // The test reads every delivery through the API afterwards.
  HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_IP: "0",
  HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
};

/**
 * Sends the events 10 at a time every 400 ms (25/s): faster than one webhook's 4 slots drain two
 * requests per event (4 / 150 ms ≈ 27 requests/s), so the backlog grows while retries come due,
 * and first attempts (dispatcher) and retries (retry manager) wait for the same slots.
 */
async function sendEvents(hr: Instance, token: string, type: string, ids: string[]): Promise<void> {
  const ingest = client(hr.ingest, token);
  for (let i = 0; i < ids.length; i += 10) {
    const began = Date.now();
    const events = ids.slice(i, i + 10).map((id) => ({ id, type, source: "t", data: { id } }));
    const res = await ingest("POST", "/events/batch", { events });
    expect(res.status).toBe(202);
    await Bun.sleep(Math.max(0, 400 - (Date.now() - began)));
  }
}

/** Every delivery of the webhook succeeded after exactly two attempts (500, then 200), numbered 1 and 2. */
async function expectAllSucceededInTwo(api: ReturnType<typeof client>, webhookId: string, count: number): Promise<void> {
  let deliveries: any[] = [];
  await waitFor(
    `${count} deliveries of ${webhookId} recorded succeeded`,
    async () => {
      const page = await api("GET", `/api/v1/deliveries?webhook_id=${webhookId}&status=succeeded&limit=1000`);
      deliveries = page.body?.data ?? [];
      return deliveries.length === count;
    },
    20_000,
    200,
  );
  expect(deliveries.every((d) => d.attempt_count === 2 && d.last_status_code === 200)).toBe(true);
  const sample = deliveries.slice(0, 10);
  for (const d of sample) {
    const attempts = await api("GET", `/api/v1/deliveries/${d.id}/attempts`);
    expect(attempts.body.data.map((a: any) => [a.attempt_number, a.status_code])).toEqual([
      [1, 500],
      [2, 200],
    ]);
  }
}

describe.each(MODES)("one delivery pool per process (%s)", (mode) => {
  const receivers: { stop(): void }[] = [];
  const instances: Instance[] = [];
  afterAll(async () => {
    for (const hr of instances) await hr.stop().catch(() => {});
    for (const r of receivers) r.stop();
  });

  it("keeps at most max_in_flight_per_webhook (4) requests in flight to one webhook, first attempts and retries together", async () => {
    const PER_WEBHOOK = 4;
    const EVENTS = 200;
    const rx = concurrencyReceiver();
    receivers.push(rx);
    const hr = await startInProcess({ ...(await modeEnv(mode)), ...fastRetries, HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: String(PER_WEBHOOK) });
    instances.push(hr);
    const token = await adminToken(hr.gateway);
    const api = client(hr.gateway, token);
    const hook = await api("POST", "/api/v1/webhooks", { url: rx.url("/one"), event_types: ["pool.one"] });
    expect(hook.status).toBe(201);

    const began = Date.now();
    const ids = Array.from({ length: EVENTS }, (_, i) => `evt_pool_one_${mode}_${i}`);
    await sendEvents(hr, token, "pool.one", ids);
    await waitFor(`all ${EVENTS} events delivered (a 200 after the failed first attempt)`, () => rx.delivered("/one").length === EVENTS, 45_000, 50);
    const tookMs = Date.now() - began;
    const s = rx.stats("/one");
    console.log(
      `shared pool, one webhook (${mode}): ${EVENTS} events, ${s.requests} requests in ${tookMs} ms; ` +
        `peak in flight ${s.peak} (limit ${PER_WEBHOOK}); most first attempts + retries in flight together: ${s.peakMix[0]} + ${s.peakMix[1]}`,
    );
    expect(s.peak).toBeLessThanOrEqual(PER_WEBHOOK);
    expect(s.peak).toBe(PER_WEBHOOK); // the limit was reached: a pool per role would have gone past it
    // First attempts and retries did compete (without it the test proves nothing about sharing).
    expect(s.peakMix[0]).toBeGreaterThan(0);
    expect(s.requests).toBe(2 * EVENTS);
    await expectAllSucceededInTwo(api, hook.body.id, EVENTS);
  }, 60_000);

  it("keeps at most max_in_flight (6) requests in flight over two webhooks of 4 each", async () => {
    const PER_WEBHOOK = 4;
    const TOTAL = 6;
    const EVENTS = 100;
    const rx = concurrencyReceiver();
    receivers.push(rx);
    const hr = await startInProcess({
      ...(await modeEnv(mode)),
      ...fastRetries,
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: String(PER_WEBHOOK),
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT: String(TOTAL),
    });
    instances.push(hr);
    const token = await adminToken(hr.gateway);
    const api = client(hr.gateway, token);
    const hooks = [];
    for (const path of ["/a", "/b"]) {
      const hook = await api("POST", "/api/v1/webhooks", { url: rx.url(path), event_types: ["pool.two"] });
      expect(hook.status).toBe(201);
      hooks.push(hook.body.id as string);
    }

    const began = Date.now();
    const ids = Array.from({ length: EVENTS }, (_, i) => `evt_pool_two_${mode}_${i}`);
    await sendEvents(hr, token, "pool.two", ids);
    await waitFor(`all ${EVENTS} events delivered to both webhooks`, () => rx.delivered("/a").length === EVENTS && rx.delivered("/b").length === EVENTS, 45_000, 50);
    const tookMs = Date.now() - began;
    const [a, b] = [rx.stats("/a"), rx.stats("/b")];
    console.log(
      `shared pool, two webhooks (${mode}): ${EVENTS} events × 2 webhooks, ${a.requests + b.requests} requests in ${tookMs} ms; ` +
        `peak in flight overall ${rx.total.peak} (limit ${TOTAL}), per webhook ${a.peak} and ${b.peak} (limit ${PER_WEBHOOK}); ` +
        `first attempts + retries together at most ${a.peakMix[0]} + ${a.peakMix[1]} (/a), ${b.peakMix[0]} + ${b.peakMix[1]} (/b)`,
    );
    expect(rx.total.peak).toBeLessThanOrEqual(TOTAL);
    expect(rx.total.peak).toBe(TOTAL);
    expect(a.peak).toBeLessThanOrEqual(PER_WEBHOOK);
    expect(b.peak).toBeLessThanOrEqual(PER_WEBHOOK);
    expect(a.peakMix[0] + b.peakMix[0]).toBeGreaterThan(0);
    expect(a.requests + b.requests).toBe(4 * EVENTS);
    for (const id of hooks) await expectAllSucceededInTwo(api, id, EVENTS);
  }, 60_000);
});
