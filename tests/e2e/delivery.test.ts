// End to end over real sockets: events in over HTTP, signed webhooks out to a real receiver.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { messageIdFor } from "../../src/domain/ids.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

describe.each(MODES)("delivery end to end (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;

  beforeAll(async () => {
    hr = await startInProcess(await modeEnv(mode));
    receiver = startReceiver();
    const token = await adminToken(hr.gateway);
    api = client(hr.gateway, token);
    ingest = client(hr.ingest, token);
  });

  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  it("delivers 1,000 events across 3 webhooks exactly as subscribed, each signature verifying", async () => {
    const orders = await api("POST", "/api/v1/webhooks", { url: receiver.url("/orders"), event_types: ["order.created"], headers: { "x-team": "orders" } });
    const refunds = await api("POST", "/api/v1/webhooks", { url: receiver.url("/refunds"), event_types: ["order.refunded"] });
    const all = await api("POST", "/api/v1/webhooks", { url: receiver.url("/all"), event_types: ["*"] });
    expect([orders.status, refunds.status, all.status]).toEqual([201, 201, 201]);
    for (const w of [orders, refunds, all]) expect(w.body.secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);

    const events = Array.from({ length: 1000 }, (_, i) => ({
      id: `evt_e2e_${i}`,
      type: i % 3 === 0 ? "order.refunded" : i % 3 === 1 ? "order.created" : "customer.updated",
      source: "shop",
      data: { n: i },
    }));
    // Half one by one on ingest, half in batches on the gateway: both doors lead to the same log.
    const singles = await Promise.all(events.slice(0, 500).map((e) => ingest("POST", "/events", e)));
    expect(singles.every((r) => r.status === 202 && r.body.status === "accepted")).toBe(true);
    expect(singles.map((r, i) => r.body.matched_webhooks === (events[i]!.type === "customer.updated" ? 1 : 2)).every(Boolean)).toBe(true);
    for (let i = 500; i < 1000; i += 250) {
      const batch = await api("POST", "/api/v1/events/batch", { events: events.slice(i, i + 250) });
      expect(batch.status).toBe(202);
      // Every event goes to the wildcard webhook, order.created and order.refunded to one more.
      const matched = events.slice(i, i + 250).reduce((n, e) => n + (e.type === "customer.updated" ? 1 : 2), 0);
      expect(batch.body).toEqual({ accepted: 250, duplicates: 0, duplicate_ids: [], matched_webhooks: matched, unmatched_ids: [] });
    }

    const expected = new Map<string, number>();
    for (const e of events) {
      expected.set(`/all ${e.id}`, 1);
      if (e.type === "order.created") expected.set(`/orders ${e.id}`, 1);
      if (e.type === "order.refunded") expected.set(`/refunds ${e.id}`, 1);
    }
    await waitFor("every delivery", () => receiver.received.length >= expected.size, 60_000);
    await Bun.sleep(300); // anything extra would arrive now
    expect(Object.fromEntries(receiver.counts())).toEqual(Object.fromEntries(expected));

    const secrets: Record<string, string> = { "/orders": orders.body.secret, "/refunds": refunds.body.secret, "/all": all.body.secret };
    for (const r of receiver.received) {
      const verified = new StandardWebhook(secrets[r.path]!).verify(r.body, r.headers) as { id: string; data: { n: number } };
      // webhook-id: one message id per (customer, event), not the producer's event id.
      expect(r.headers["webhook-id"]).toBe(messageIdFor("default", verified.id));
      expect(r.headers["content-type"]).toBe("application/json");
    }
    const sample = receiver.received.find((r) => r.path === "/orders")!;
    expect(sample.headers["x-team"]).toBe("orders");
    const body = JSON.parse(sample.body);
    expect(Object.keys(body).sort()).toEqual(["data", "id", "source", "timestamp", "type"]);

    const succeeded = await api("GET", `/api/v1/deliveries?webhook_id=${orders.body.id}&status=succeeded&limit=1000`);
    expect(succeeded.body.data.length).toBe(events.filter((e) => e.type === "order.created").length);
    expect(succeeded.body.data[0]).toMatchObject({ status: "succeeded", attempt_count: 1, last_status_code: 200 });
  });

  it("answers a repeated event id with 200 duplicate and never delivers it twice", async () => {
    const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/dedupe"), event_types: ["dedupe.test"] });
    expect(hook.status).toBe(201);
    const event = { id: "evt_dup_1", type: "dedupe.test", source: "t", data: {} };
    const first = await ingest("POST", "/events", event);
    const again = await ingest("POST", "/events", event);
    const viaGateway = await api("POST", "/api/v1/events", event);
    expect(first).toMatchObject({ status: 202, body: { id: "evt_dup_1", status: "accepted" } });
    expect(again).toMatchObject({ status: 200, body: { id: "evt_dup_1", status: "duplicate" } });
    expect(viaGateway).toMatchObject({ status: 200, body: { status: "duplicate" } });
    const batch = await ingest("POST", "/events/batch", { events: [event, { ...event, id: "evt_dup_2" }, { ...event, id: "evt_dup_2" }] });
    expect(batch).toMatchObject({ status: 202, body: { accepted: 1, duplicates: 2 } });
    await waitFor("both events", () => receiver.received.filter((r) => r.path === "/dedupe").length >= 2);
    await Bun.sleep(300);
    expect(
      receiver.received
        .filter((r) => r.path === "/dedupe")
        .map((r) => eventIdOf(r.body))
        .sort(),
    ).toEqual(["evt_dup_1", "evt_dup_2"]);
  });

  it("shows an event with its deliveries and each delivery's attempts", async () => {
    const event = await api("GET", "/api/v1/events/evt_dup_1");
    expect(event.status).toBe(200);
    expect(event.body).toMatchObject({ id: "evt_dup_1", type: "dedupe.test", source: "t", data: {} });
    // The dedupe webhook and the "*" webhook of the first test.
    expect(event.body.deliveries).toHaveLength(2);
    const attempts = await api("GET", `/api/v1/deliveries/${event.body.deliveries[0].id}/attempts`);
    expect(attempts.status).toBe(200);
    expect(attempts.body.data).toHaveLength(1);
    expect(attempts.body.data[0]).toMatchObject({ attempt_number: 1, status_code: 200, error: null, response_body: "ok" });
    expect(attempts.body.data[0].duration_ms).toBeGreaterThan(0);
  });

  it("stops delivering to a webhook the moment it is disabled, and resumes when enabled", async () => {
    const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/toggle"), event_types: ["toggle"] });
    const send = (id: string) => api("POST", "/api/v1/events", { id, type: "toggle", source: "t", data: {} });
    await send("evt_toggle_1");
    await waitFor("first delivery", () => receiver.received.some((r) => r.path === "/toggle"));
    expect((await api("PATCH", `/api/v1/webhooks/${hook.body.id}`, { status: "disabled" })).status).toBe(200);
    await send("evt_toggle_2");
    // The "*" webhook of the first test gets it too: once it has, the dispatcher has matched it.
    await waitFor("evt_toggle_2 matched", () => receiver.received.some((r) => r.path === "/all" && eventIdOf(r.body) === "evt_toggle_2"));
    expect((await api("PATCH", `/api/v1/webhooks/${hook.body.id}`, { status: "active" })).status).toBe(200);
    await send("evt_toggle_3");
    await waitFor("third delivery", () => receiver.received.some((r) => eventIdOf(r.body) === "evt_toggle_3"));
    await Bun.sleep(200);
    const ids = receiver.received.filter((r) => r.path === "/toggle").map((r) => eventIdOf(r.body));
    expect(ids).toEqual(["evt_toggle_1", "evt_toggle_3"]);
  });

  it("serves /health and /metrics on every role", async () => {
    for (const base of [hr.gateway, hr.ingest, hr.dispatcher, hr.retry, hr.observability]) {
      const health = await fetch(`${base}/health`);
      expect(health.status).toBe(200);
      expect(((await health.json()) as { status: string }).status).toBe("ok");
    }
    const metrics = await (await fetch(`${hr.dispatcher}/metrics`)).text();
    for (const name of [
      "webhook_delivery_attempts_total",
      "webhook_delivery_success_total",
      "webhook_delivery_failures_total",
      "webhook_delivery_duration_seconds",
      "webhook_http_requests_total",
      "webhook_retry_queue_depth",
      "webhook_event_log_lag",
    ])
      expect(metrics).toContain(name);
    expect(metrics).toMatch(/webhook_delivery_success_total \d{4,}/);
  });
});
