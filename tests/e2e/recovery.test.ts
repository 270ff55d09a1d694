// Bulk replay (recovery), in both deployments, over real sockets with a real receiver: a webhook's
// dead deliveries since a time are sent again by a background job at its pace, across a kill -9 of
// the process running it (the job taken over where it was, each delivery sent once by the job but
// for the one whose answer came in the instant before the kill, before its attempt was written),
// with its progress reported and a recovery.finished operational event at the end; a job can be
// cancelled; bad input is refused naming it, and another customer's job is not found.
import { afterAll, describe, expect, it } from "bun:test";
import { batchOf } from "../../src/services/recovery/runner.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, startChildWithReceiver } from "../helpers/process.ts";
import { eventIdOf, type Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const EVENTS = 200;
const PER_SECOND = 20;

describe.each(MODES)("recovery (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let webhook: string;
  let broken = true;
  const before = new Date(Date.now() - 1000).toISOString();
  const type = `${mode}.recover`;

  it("starts, and lets 200 deliveries die against an endpoint that refuses them", async () => {
    ({ hr, rx, api } = await startChildWithReceiver(
      {
        ...(await modeEnv(mode)),
        HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
        HOOKRELAY_RETRY_MANAGER_OPERATIONAL_POLL_INTERVAL: "100ms",
        HOOKRELAY_SECURITY_RATE_LIMIT_API_PER_CUSTOMER: "0",
      },
      cleanups,
    ));
    rx.onPath("/recover", () => new Response(null, { status: broken ? 400 : 204 }));
    webhook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/recover"), event_types: [type], permanent_failure_codes: [400] })).body.id;
    expect((await api("POST", "/api/v1/operational-webhooks", { url: rx.url("/ops"), event_types: ["recovery.finished"] })).status).toBe(201);
    const events = Array.from({ length: EVENTS }, (_, i) => ({ id: `${mode}-rec-${String(i).padStart(3, "0")}`, type, source: "t", data: { i } }));
    expect((await api("POST", "/api/v1/events/batch", { events })).status).toBe(202);
    await waitFor("every delivery dead", async () => (await api("GET", `/api/v1/webhooks/${webhook}/deliveries?status=dead&limit=1000`)).body.data.length === EVENTS, 30_000, 100);
  });

  it("sends them all again once, at its pace, across a kill -9 of the process running it, and reports its progress", async () => {
    broken = false;
    const startedAt = Date.now();
    const started = await api("POST", `/api/v1/webhooks/${webhook}/recover`, { since: before, per_second: PER_SECOND });
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ kind: "recover", webhook_id: webhook, state: "running", status: "dead", per_second: PER_SECOND, matched: EVENTS, sent: 0 });
    const job = started.body.id;
    const sentByJob = () => rx.received.filter((r) => r.path === "/recover" && r.at >= startedAt);
    await waitFor("a third sent", () => sentByJob().length >= EVENTS / 3, 30_000);
    // The pace before the kill: within 10% of the one asked for.
    const early = sentByJob().map((r) => r.at);
    const rate = ((early.length - 1) * 1000) / (early[early.length - 1]! - early[0]!);
    console.log(`recovery (${mode}): ${early.length} sent at ${rate.toFixed(1)}/s before the kill (asked ${PER_SECOND}/s)`);
    expect(Math.abs(rate - PER_SECOND) / PER_SECOND).toBeLessThan(0.1);
    hr.proc.kill(9);
    await hr.proc.exited;
    await hr.start();
    api = client(hr.gateway, await adminToken(hr.gateway));
    await waitFor("the job finished", async () => (await api("GET", `/api/v1/jobs/${job}`)).body.state === "finished", 60_000, 200);
    const done = (await api("GET", `/api/v1/jobs/${job}`)).body;
    expect(done).toMatchObject({ state: "finished", matched: EVENTS, sent: EVENTS, succeeded: EVENTS, failed: 0, finished_at: expect.any(String) });
    // Each event once since the recovery began, none missed; at most those in flight at the kill
    // twice (answered, but their attempts not yet written when the process died: the job sends them again).
    const counts = new Map<string, number>();
    for (const r of sentByJob()) counts.set(eventIdOf(r.body), (counts.get(eventIdOf(r.body)) ?? 0) + 1);
    expect(counts.size).toBe(EVENTS);
    const twice = [...counts.entries()].filter(([, n]) => n !== 1);
    expect(twice.length).toBeLessThanOrEqual(batchOf(PER_SECOND));
    expect(twice.every(([, n]) => n === 2)).toBe(true);
    console.log(`recovery (${mode}): ${EVENTS} sent by the job across the kill, ${twice.length} twice`);
    expect((await api("GET", `/api/v1/webhooks/${webhook}/deliveries?status=succeeded&limit=1000`)).body.data.length).toBe(EVENTS);
    // The operator hears of it.
    await waitFor("recovery.finished", () => rx.received.some((r) => r.path === "/ops" && JSON.parse(r.body).type === "recovery.finished"), 20_000);
    const finished = JSON.parse(rx.received.find((r) => r.path === "/ops" && JSON.parse(r.body).type === "recovery.finished")!.body);
    expect(finished.data).toMatchObject({ customer_id: "default", webhook_id: webhook, reason: `recovery ${job} finished: ${EVENTS} sent, ${EVENTS} succeeded, 0 failed` });
  }, 120_000);

  it("stops a cancelled job: nothing more is sent", async () => {
    const startedAt = Date.now();
    const job = (await api("POST", `/api/v1/webhooks/${webhook}/recover`, { since: before, status: "succeeded", per_second: 5 })).body;
    expect(job.matched).toBe(EVENTS);
    await waitFor("a few sent", () => rx.received.filter((r) => r.path === "/recover" && r.at >= startedAt).length >= 2, 20_000);
    const cancelled = (await api("POST", `/api/v1/jobs/${job.id}/cancel`)).body;
    expect(cancelled).toMatchObject({ state: "cancelled", finished_at: expect.any(String) });
    const atCancel = rx.received.filter((r) => r.path === "/recover" && r.at >= startedAt).length;
    await Bun.sleep(1000);
    // At most the send under way when it was cancelled.
    expect(rx.received.filter((r) => r.path === "/recover" && r.at >= startedAt).length).toBeLessThanOrEqual(atCancel + 1);
    expect((await api("GET", `/api/v1/jobs/${job.id}`)).body.state).toBe("cancelled");
  });

  it("refuses bad input naming it; another customer's webhook and job are not found", async () => {
    for (const [body, message] of [
      [{}, "since"],
      [{ since: "yesterday" }, "since"],
      [{ since: before, until: before }, "since: must be before until"],
      [{ since: before, status: "pending" }, "status"],
      [{ since: before, per_second: 0 }, "per_second"],
      [{ since: before, colour: "red" }, "colour"],
    ] as const) {
      const res = await api("POST", `/api/v1/webhooks/${webhook}/recover`, body);
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      expect(res.body.error.message).toContain(message);
    }
    expect((await api("POST", "/api/v1/webhooks/wh_nope/recover", { since: before })).status).toBe(404);
    const job = (await api("POST", `/api/v1/webhooks/${webhook}/recover`, { since: new Date().toISOString() })).body.id;
    const customer = (await api("POST", "/api/v1/customers", { name: `recovery other ${mode}` })).body.id;
    const key = (await api("POST", `/api/v1/customers/${customer}/api-keys`, { name: "k", scopes: ["deliveries:read", "deliveries:write"] })).body.key;
    const other = client(hr.gateway, key);
    expect((await other("GET", `/api/v1/jobs/${job}`)).status).toBe(404);
    expect((await other("POST", `/api/v1/jobs/${job}/cancel`)).status).toBe(404);
    expect((await other("POST", `/api/v1/webhooks/${webhook}/recover`, { since: before })).status).toBe(404);
  });
});
