// Test sends (`POST /api/v1/webhooks/{id}/test`), in both deployments, over real sockets with a real
// receiver: a sample event of the type asked for goes to the endpoint at once, signed as deliveries
// are (the standardwebhooks package verifies what the receiver got with the webhook's secret), and
// the answer holds what the endpoint said: status, time, a 1,024-character excerpt, the signature
// headers; a failing, hanging or refusing endpoint is an answer too. It is not a delivery: nothing is
// stored. Bad input is refused naming the field; another customer's webhook is not found; a key
// that may only read webhooks may not send.
import { afterAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { client } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, startChildWithReceiver } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

describe.each(MODES)("test sends (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let webhook: { id: string; secret: string };

  it("starts", async () => {
    // A short request timeout, so the hanging endpoint below answers the test send within the test.
    ({ hr, rx, api } = await startChildWithReceiver({ ...(await modeEnv(mode)), HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "1s" }, cleanups));
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/probe"), event_types: ["order.created"] });
    expect(created.status).toBe(201);
    webhook = created.body;
  });

  it("sends a signed sample event now and answers what the endpoint said; nothing is stored", async () => {
    rx.onPath("/probe", () => new Response("hello from the receiver", { status: 201 }));
    const res = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "invoice.paid" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ succeeded: true, status_code: 201, response_excerpt: "hello from the receiver", error: null });
    expect(res.body.duration_ms).toBeGreaterThan(0);
    expect(res.body.event).toMatchObject({ type: "invoice.paid", source: "hookrelay.test", data: { test: true } });
    const got = rx.received.filter((r) => r.path === "/probe");
    expect(got).toHaveLength(1);
    expect(JSON.parse(got[0]!.body)).toEqual(res.body.event);
    // Signed as a delivery is: the receiver's check passes with the webhook's secret, and the headers are the ones answered.
    expect(new StandardWebhook(webhook.secret).verify(got[0]!.body, got[0]!.headers)).toEqual(res.body.event);
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) expect(got[0]!.headers[name]).toBe(res.body.request_headers[name]);
    // Not a delivery: none listed for the webhook.
    expect((await api("GET", `/api/v1/deliveries?webhook_id=${webhook.id}`)).body.data).toEqual([]);
  });

  it("answers a failing endpoint's status and a long answer's first 1,024 characters", async () => {
    rx.onPath("/probe", () => new Response(`boom ${"x".repeat(5000)}`, { status: 500 }));
    const res = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "order.created" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ succeeded: false, status_code: 500, error: "HTTP 500" });
    expect(res.body.response_excerpt).toHaveLength(1024);
    expect(res.body.response_excerpt).toStartWith("boom x");
  });

  it("answers a hanging endpoint with the timeout, within it", async () => {
    rx.onPath("/probe", () => Bun.sleep(5_000).then(() => new Response("late")));
    const started = Date.now();
    const res = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "order.created" });
    expect(Date.now() - started).toBeLessThan(4_000);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ succeeded: false, status_code: null, response_excerpt: null });
    expect(res.body.error).toMatch(/timeout/);
  });

  it("refuses a missing or bad event type naming it, an unknown webhook, and a key that may only read", async () => {
    for (const body of [{}, { event_type: "*" }, { event_type: "has space" }, { event_type: "ok", extra: 1 }]) {
      const res = await api("POST", `/api/v1/webhooks/${webhook.id}/test`, body);
      expect({ body, status: res.status }).toEqual({ body, status: 422 });
      expect(res.body.error.message).toMatch(/event_type|extra|must be an object/);
    }
    expect((await api("POST", "/api/v1/webhooks/wh_nope/test", { event_type: "order.created" })).status).toBe(404);
    const key = await api("POST", "/api/v1/customers/default/api-keys", { name: "reader", scopes: ["webhooks:read"] });
    const reader = client(hr.gateway, key.body.key);
    expect((await reader("POST", `/api/v1/webhooks/${webhook.id}/test`, { event_type: "order.created" })).status).toBe(403);
  });
});
