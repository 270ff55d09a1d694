// The observability role's JSON in both deployments: webhook health, recent failures, an event's
// timeline across customers, retry by the operator, and the aggregated /metrics.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

describe.each(MODES)("observability API (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let admin: ReturnType<typeof client>;
  let operator: ReturnType<typeof client>;
  let customerKey: string;
  const webhooks: Record<"ok" | "fails" | "flaky" | "other", string> = { ok: "", fails: "", flaky: "", other: "" };

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "2",
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_OBSERVABILITY_SCRAPE_INTERVAL: "200ms",
    });
    receiver = startReceiver();
    receiver.onPath("/fails", () => new Response("nope", { status: 503 }));
    receiver.onPath("/flaky", (_r, n) => new Response(n === 1 ? "first fails" : "ok", { status: n === 1 ? 500 : 200 }));
    const token = await adminToken(hr.gateway);
    admin = client(hr.gateway, token);
    operator = client(hr.observability, token);
    for (const name of ["ok", "fails", "flaky"] as const) webhooks[name] = (await admin("POST", "/api/v1/webhooks", { url: receiver.url(`/${name}`), event_types: ["order.paid"] })).body.id;
    // A second customer, with its own webhook and an event of the same id.
    await admin("POST", "/api/v1/customers", { id: "acme", name: "Acme" });
    customerKey = (await admin("POST", "/api/v1/customers/acme/api-keys", { name: "k", scopes: ["webhooks:write", "events:write", "deliveries:read"] })).body.key;
    webhooks.other = (await client(hr.gateway, customerKey)("POST", "/api/v1/webhooks", { url: receiver.url("/other"), event_types: ["order.paid"] })).body.id;
    const events = ["evt_obs_1", "evt_obs_2"].map((id) => ({ id, type: "order.paid", source: "shop", data: {} }));
    expect((await client(hr.ingest, token)("POST", "/events/batch", { events })).status).toBe(202);
    expect((await client(hr.ingest, customerKey)("POST", "/events", events[0])).status).toBe(202);
    await waitFor(
      "every delivery finished",
      async () => {
        const stats = (await operator("GET", "/api/stats")).body;
        return stats.deliveries.succeeded === 5 && stats.deliveries.dead === 2;
      },
      30_000,
      100,
    );
  });

  afterAll(async () => {
    await hr?.stop();
    receiver?.stop();
  });

  it("reports each webhook of every customer with its counts, health and last failure, failing ones first", async () => {
    const { data } = (await operator("GET", "/api/webhooks")).body;
    expect(data).toHaveLength(4);
    expect(data[0]).toMatchObject({
      webhook_id: webhooks.fails,
      customer_id: "default",
      health: "degraded",
      counts: { succeeded: 0, failed: 0, dead: 2, pending: 0 },
      success_rate: 0,
      last_failure: { status: "dead", status_code: 503 },
    });
    const byId = new Map(data.map((w: { webhook_id: string }) => [w.webhook_id, w]));
    expect(byId.get(webhooks.flaky)).toMatchObject({ health: "healthy", counts: { succeeded: 2, dead: 0 }, success_rate: 1, last_failure: null });
    expect(byId.get(webhooks.other)).toMatchObject({ customer_id: "acme", counts: { succeeded: 1 } });
  });

  it("lists recent failures with every attempt, newest first", async () => {
    const { data } = (await operator("GET", "/api/failures?limit=10")).body;
    expect(data.map((d: { webhook_id: string; status: string }) => [d.webhook_id, d.status])).toEqual([
      [webhooks.fails, "dead"],
      [webhooks.fails, "dead"],
    ]);
    for (const d of data) {
      expect(d.webhook_url).toBe(receiver.url("/fails"));
      expect(d.attempts.map((a: { attempt_number: number; status_code: number }) => [a.attempt_number, a.status_code])).toEqual([
        [1, 503],
        [2, 503],
        [3, 503],
      ]);
    }
    expect((await operator("GET", "/api/failures?limit=1")).body.data).toHaveLength(1);
  });

  it("shows an event's timeline under every customer that sent that id", async () => {
    const t = (await operator("GET", "/api/events/evt_obs_1/timeline")).body;
    expect(t.events.map((e: { customer_id: string }) => e.customer_id).sort()).toEqual(["acme", "default"]);
    expect(t.deliveries).toHaveLength(4);
    const about = (webhook: string) => t.timeline.filter((e: { webhook_id?: string }) => e.webhook_id === webhook).map((e: { kind: string }) => e.kind);
    expect(about(webhooks.ok)).toEqual(["attempt", "succeeded"]);
    expect(about(webhooks.fails)).toEqual(["attempt", "retry_scheduled", "attempt", "retry_scheduled", "attempt", "dead"]);
    expect(t.timeline.filter((e: { kind: string }) => e.kind === "accepted")).toHaveLength(2);
    // In time order, and a scheduled retry says when it was due.
    const times = t.timeline.map((e: { at: string }) => e.at);
    expect([...times].sort()).toEqual(times);
    const scheduled = t.timeline.find((e: { kind: string; webhook_id?: string }) => e.kind === "retry_scheduled" && e.webhook_id === webhooks.fails);
    expect(Date.parse(scheduled.due_at) - Date.parse(scheduled.at)).toBeGreaterThanOrEqual(90);
    const unknown = await operator("GET", "/api/events/evt_never/timeline");
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe("not_found");
  });

  it("retries a dead delivery of any customer for the operator, and its timeline shows the replay", async () => {
    const dead = (await operator("GET", "/api/failures")).body.data[0];
    const retried = await operator("POST", `/api/deliveries/${dead.id}/retry`);
    expect(retried.status).toBe(202);
    expect(retried.body).toMatchObject({ id: dead.id, status: "pending" });
    await waitFor(
      "the replay's round to end dead",
      async () => {
        const d = (await admin("GET", `/api/v1/deliveries/${dead.id}`)).body;
        return d.status === "dead" && d.attempt_count === 6;
      },
      15_000,
      100,
    );
    const t = (await operator("GET", `/api/events/${dead.event_id}/timeline`)).body;
    const kinds = t.timeline.filter((e: { delivery_id?: string }) => e.delivery_id === dead.id).map((e: { kind: string }) => e.kind);
    expect(kinds.filter((k: string) => k === "replayed")).toHaveLength(1);
    expect(kinds.indexOf("replayed")).toBe(6);
    expect(kinds.filter((k: string) => k === "dead")).toHaveLength(2);
  });

  it("is for the operator only: a customer's key gets 403, no credentials 401", async () => {
    for (const path of ["/api/stats", "/api/webhooks", "/api/failures", "/api/events/evt_obs_1/timeline"]) {
      expect({ path, status: (await client(hr.observability, customerKey)("GET", path)).status }).toEqual({ path, status: 403 });
      expect({ path, status: (await client(hr.observability)("GET", path)).status }).toEqual({ path, status: 401 });
    }
  });

  it("sums the deployment's counters in /api/stats and charts them", async () => {
    // Samples are taken every 200 ms: the replay's last attempt shows in the next one.
    await waitFor(
      "a few samples, the newest after the replay",
      async () => {
        const now = (await operator("GET", "/api/stats")).body;
        return now.series.length >= 3 && now.totals.dead === 3;
      },
      10_000,
      100,
    );
    const stats = (await operator("GET", "/api/stats")).body;
    // 5 successes (one after the flaky endpoint's retry); 3 + 3 failed tries dead, the flaky one, the replay's 3.
    expect(stats.totals).toMatchObject({ ingested: 3, delivered: 5, failed: 10, dead: 3, retries: 2 * 2 + 1 + 2 });
    expect(stats.targets).toEqual([]);
    expect(stats.sampled_at).toBeGreaterThan(0);
    const metrics = await (await fetch(`${hr.observability}/metrics`)).text();
    expect(metrics).toMatch(/^webhook_delivery_attempts_total\{outcome="success"\} 5$/m);
  });

  // Last: it adds a webhook and a delivery the tests above do not expect.
  it("counts a delivery awaiting its retry against the success ratio, and the recent attempts' ratio", async () => {
    // Fails and asks for its retry in an hour: the delivery stays `failed`, neither succeeded nor dead.
    receiver.onPath("/later", () => new Response("busy", { status: 503, headers: { "retry-after": "3600" } }));
    await admin("POST", "/api/v1/webhooks", { url: receiver.url("/later"), event_types: ["order.later"] });
    expect((await client(hr.ingest, await adminToken(hr.gateway))("POST", "/events", { id: "evt_obs_later", type: "order.later", source: "shop", data: {} })).status).toBe(202);
    await waitFor("the delivery failed, awaiting its retry", async () => (await operator("GET", "/api/stats")).body.deliveries.failed === 1, 10_000, 100);
    const stats = (await operator("GET", "/api/stats")).body;
    expect(stats.deliveries).toEqual({ pending: 0, succeeded: 5, failed: 1, dead: 2 });
    expect(stats.success_ratio).toBeCloseTo(5 / 8); // not 5 / 7: the failing delivery counts
    const { delivered_per_second: ok, failed_per_second: failed } = stats.rates;
    expect(stats.attempt_success_ratio).toBe(ok + failed === 0 ? null : ok / (ok + failed));
  });
});
