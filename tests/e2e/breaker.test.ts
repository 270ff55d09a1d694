// A webhook's circuit breaker over real sockets, in both deployments: an endpoint that keeps failing
// is paused (webhook.paused, visible in its health), its events are held and not dropped, it is
// probed with one delivery at growing intervals, a probe's success resumes it (webhook.resumed), and
// the backlog drains at the configured pace with nothing lost; another webhook of the same events
// is served throughout. A person can resume a paused webhook too.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const TRIP_AFTER = 5;
const PROBE_MS = 400;
const PROBE_MAX_MS = 1_600;
const DRAIN_PER_SECOND = 20;

describe.each(MODES)("circuit breaker (%s)", (mode) => {
  let hr: Instance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: String(TRIP_AFTER),
      HOOKRELAY_ENDPOINT_HEALTH_BREAKER_FAILURE_RATIO: "0",
      HOOKRELAY_ENDPOINT_HEALTH_PROBE_INTERVAL: `${PROBE_MS}ms`,
      HOOKRELAY_ENDPOINT_HEALTH_PROBE_MAX_INTERVAL: `${PROBE_MAX_MS}ms`,
      HOOKRELAY_ENDPOINT_HEALTH_DRAIN_PER_SECOND: String(DRAIN_PER_SECOND),
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_MAX_DELAY: "200ms",
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "50",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_RETRY_MANAGER_POLL_INTERVAL: "50ms",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
    });
    rx = startReceiver();
    api = client(hr.gateway, await adminToken(hr.gateway));
  });

  afterAll(async () => {
    await hr.stop();
    rx.stop();
  });

  const send = async (ids: string[], type: string) => expect((await api("POST", "/api/v1/events/batch", { events: ids.map((id) => ({ id, type, source: "t", data: { id } })) })).status).toBe(202);
  const health = async (id: string) => (await api("GET", `/api/v1/webhooks/${id}/health`)).body;
  /** Event ids each path answered 2xx. */
  const answeredOk = new Map<string, Set<string>>();
  const okIds = (path: string) => answeredOk.get(path) ?? new Set<string>();
  const ok = (path: string, body: string) => {
    answeredOk.set(path, okIds(path).add(eventIdOf(body)));
    return new Response("ok");
  };

  it("pauses a failing endpoint, holds its events, probes it at growing intervals, resumes it and drains the backlog at its pace, losing nothing", async () => {
    let down = true;
    const okAt: number[] = [];
    rx.onPath("/down", (req) => {
      if (down) return new Response("unavailable", { status: 503 });
      okAt.push(Date.now());
      return ok("/down", req.body);
    });
    rx.onPath("/fine", (req) => ok("/fine", req.body));
    const hook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/down"), event_types: ["breaker.test"] })).body;
    await api("POST", "/api/v1/webhooks", { url: rx.url("/fine"), event_types: ["breaker.test"] });
    await Bun.sleep(300);
    const first = Array.from({ length: 30 }, (_, i) => `evt_brk_a${i}`);
    await send(first, "breaker.test");

    await waitFor("the webhook paused", async () => (await health(hook.id)).state === "paused", 15_000, 50);
    const paused = await health(hook.id);
    expect(paused.consecutive_failures).toBeGreaterThanOrEqual(TRIP_AFTER);
    expect(paused.current_backoff_ms).toBe(PROBE_MS);
    expect(Date.parse(paused.next_probe_at)).toBeGreaterThan(Date.parse(paused.paused_since));
    expect(Date.parse(paused.failing_since)).toBeLessThanOrEqual(Date.parse(paused.paused_since));
    expect((await api("GET", `/api/v1/webhooks/${hook.id}`)).body.status).toBe("active"); // paused, not disabled
    const ops = (await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`)).body.data;
    expect(ops.map((e: { type: string }) => e.type)).toEqual(["webhook.paused"]);
    // The operator's dashboard shows it paused, with its next probe and its backlog.
    const board = (await client(hr.observability, await adminToken(hr.gateway))("GET", "/api/webhooks")).body.data.find((w: { webhook_id: string }) => w.webhook_id === hook.id);
    expect(board).toMatchObject({ status: "active", health: "paused" });
    expect(Date.parse(board.next_probe_at)).toBeGreaterThan(0);
    expect(board.counts.pending + board.counts.failed).toBeGreaterThan(0);
    expect(ops[0].reason).toContain("failed attempts in a row");

    // Paused: only probes reach it, at growing intervals; events that come meanwhile are held.
    const pausedAt = Date.now();
    const before = rx.received.filter((r) => r.path === "/down").length;
    const later = Array.from({ length: 30 }, (_, i) => `evt_brk_b${i}`);
    await send(later, "breaker.test");
    await Bun.sleep(3_000);
    const probes = rx.received.filter((r) => r.path === "/down").slice(before);
    // Probes 400, 800, 1600, 1600 ms apart: at most 4 in 3 s (plus one in-flight answer of the trip).
    expect(probes.length).toBeGreaterThanOrEqual(2);
    expect(probes.length).toBeLessThanOrEqual(5);
    const gaps = probes.slice(1).map((p, i) => p.at - probes[i]!.at);
    for (const [i, gap] of gaps.entries()) if (i > 0) expect(gap).toBeGreaterThanOrEqual(gaps[i - 1]! - 150); // never shorter
    const whilePaused = await health(hook.id);
    expect(whilePaused.state).toBe("paused");
    expect(whilePaused.current_backoff_ms).toBeGreaterThan(PROBE_MS);
    expect(whilePaused.queued).toBe(first.length + later.length - okIds("/down").size);
    // The other webhook of the same events got every one of them meanwhile.
    await waitFor("the bystander got all 60", () => okIds("/fine").size === 60, 15_000, 50);
    expect(Date.now() - pausedAt).toBeGreaterThan(0);

    // The endpoint recovers: the next probe succeeds, the breaker closes, the backlog drains at its pace.
    down = false;
    await waitFor("the webhook resumed", async () => (await health(hook.id)).state === "healthy", 10_000, 50);
    const resumedAt = Date.now();
    const all = [...first, ...later];
    await waitFor(
      () => `every event delivered: ${okIds("/down").size} of ${all.length}`,
      () => all.every((id) => okIds("/down").has(id)),
      30_000,
      50,
    );
    const drainMs = Math.max(...okAt) - Math.min(...okAt);
    // 60 held deliveries at 20 a second: about 3 s; never all at once.
    expect(drainMs).toBeGreaterThanOrEqual(((all.length - 1) / DRAIN_PER_SECOND) * 1000 * 0.8);
    const perSecond = new Map<number, number>();
    for (const t of okAt) perSecond.set(Math.floor((t - okAt[0]!) / 1000), (perSecond.get(Math.floor((t - okAt[0]!) / 1000)) ?? 0) + 1);
    expect(Math.max(...perSecond.values())).toBeLessThanOrEqual(DRAIN_PER_SECOND * 1.25);
    const after = await health(hook.id);
    await waitFor("nothing queued", async () => (await health(hook.id)).queued === 0, 10_000, 100);
    expect(after).toMatchObject({ state: "healthy", paused_since: null, next_probe_at: null });
    expect(Date.parse(after.last_success_at)).toBeGreaterThanOrEqual(resumedAt - 5_000);
    const events = (await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`)).body.data;
    expect(events.map((e: { type: string }) => e.type)).toEqual(["webhook.resumed", "webhook.paused"]);
    expect(events[0].reason).toContain("a probe succeeded");
    // Every delivery stored succeeded.
    const stored = (await api("GET", `/api/v1/deliveries?webhook_id=${hook.id}&limit=1000`)).body.data as { status: string }[];
    expect(stored.length).toBe(all.length);
    expect(stored.every((d) => d.status === "succeeded")).toBe(true);
  }, 90_000);

  it("resumes a paused webhook by hand: its held deliveries drain; a healthy one is left as it is", async () => {
    let down = true;
    rx.onPath("/manual", (req) => (down ? new Response("unavailable", { status: 503 }) : ok("/manual", req.body)));
    const hook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/manual"), event_types: ["breaker.manual"] })).body;
    await Bun.sleep(300);
    const ids = Array.from({ length: 10 }, (_, i) => `evt_brk_m${i}`);
    await send(ids, "breaker.manual");
    await waitFor("the webhook paused", async () => (await health(hook.id)).state === "paused", 15_000, 50);
    down = false;
    const resumed = await api("POST", `/api/v1/webhooks/${hook.id}/resume`);
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ webhook_id: hook.id, state: "healthy", paused_since: null });
    await waitFor("every event delivered", () => ids.every((id) => okIds("/manual").has(id)), 20_000, 50);
    const events = (await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`)).body.data;
    expect(events[0]).toMatchObject({ type: "webhook.resumed" });
    expect(events[0].reason).toContain("resumed by");
    // Healthy: nothing to do, nothing recorded.
    expect((await api("POST", `/api/v1/webhooks/${hook.id}/resume`)).body.state).toBe("healthy");
    expect((await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`)).body.data).toHaveLength(events.length);
    expect((await api("POST", "/api/v1/webhooks/wh_nope/resume")).status).toBe(404);
  }, 60_000);
});

describe.each(MODES)("circuit breaker gives up (%s)", (mode) => {
  it("disables a webhook still failing its probes after disable_after, with a webhook.disabled event, its events kept", async () => {
    const hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: "3",
      HOOKRELAY_ENDPOINT_HEALTH_BREAKER_FAILURE_RATIO: "0",
      HOOKRELAY_ENDPOINT_HEALTH_PROBE_INTERVAL: "200ms",
      HOOKRELAY_ENDPOINT_HEALTH_PROBE_MAX_INTERVAL: "400ms",
      HOOKRELAY_ENDPOINT_HEALTH_DISABLE_AFTER: "1s",
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "50",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
    });
    const rx = startReceiver();
    try {
      rx.onPath("/gone-for-good", () => new Response("unavailable", { status: 503 }));
      const api = client(hr.gateway, await adminToken(hr.gateway));
      const hook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/gone-for-good"), event_types: ["breaker.giveup"] })).body;
      await Bun.sleep(300);
      const ids = Array.from({ length: 10 }, (_, i) => `evt_giveup_${i}`);
      expect((await api("POST", "/api/v1/events/batch", { events: ids.map((id) => ({ id, type: "breaker.giveup", source: "t", data: {} })) })).status).toBe(202);
      await waitFor("the webhook disabled", async () => (await api("GET", `/api/v1/webhooks/${hook.id}`)).body.status === "disabled", 20_000, 100);
      const disabled = (await api("GET", `/api/v1/webhooks/${hook.id}`)).body;
      expect(disabled.disabled_reason).toContain("failing since");
      const events = (await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`)).body.data.map((e: { type: string }) => e.type);
      expect(events).toEqual(["webhook.disabled", "webhook.paused"]);
      const health = (await api("GET", `/api/v1/webhooks/${hook.id}/health`)).body;
      expect(health).toMatchObject({ state: "disabled", paused_since: null });
      // Nothing was dropped: every delivery is still unfinished, waiting for the webhook to be enabled.
      expect(health.queued).toBe(ids.length);
    } finally {
      rx.stop();
      await hr.stop();
    }
  }, 60_000);
});
