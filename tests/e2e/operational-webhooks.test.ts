// Operational webhooks, in both deployments, over real sockets with a real receiver: the operator
// registers an endpoint for hookrelay's own events, and receives, signed (verified with the
// standardwebhooks package), a customer's webhook disabled by a 410, paused by its breaker and
// resumed by a probe, and a delivery that died. Only the operator may manage them; only
// operational event types are taken; no customer sees them or their events.
import { afterAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, startChildWithReceiver } from "../helpers/process.ts";
import type { Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

interface Received {
  id: string;
  type: string;
  source: string;
  data: { customer_id: string; webhook_id: string; reason?: string; delivery_id?: string; event_id?: string; attempts?: number; last_status_code?: number; occurred_at: string };
}

describe.each(MODES)("operational webhooks (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ops: { id: string; secret: string };
  /** The operational events received, each verified with the operational webhook's secret. */
  const received = (): Received[] => rx.received.filter((r) => r.path === "/ops").map((r) => new StandardWebhook(ops.secret).verify(r.body, r.headers) as Received);
  const send = async (id: string, type: string) => expect((await api("POST", "/api/v1/events", { id: `${mode}-${id}`, type, source: "t", data: {} })).status).toBe(202);

  it("starts, and the operator registers an endpoint for every operational event", async () => {
    ({ hr, rx, api } = await startChildWithReceiver(
      {
        ...(await modeEnv(mode)),
        HOOKRELAY_RETRY_MANAGER_OPERATIONAL_POLL_INTERVAL: "100ms",
        HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "1",
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
        HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: "3",
        HOOKRELAY_ENDPOINT_HEALTH_PROBE_INTERVAL: "300ms",
      },
      cleanups,
    ));
    const created = await api("POST", "/api/v1/operational-webhooks", { url: rx.url("/ops"), event_types: ["*"], description: "on-call" });
    expect(created.status).toBe(201);
    expect(created.headers.get("cache-control")).toBe("no-store");
    ops = created.body;
    expect(ops.secret).toStartWith("whsec_");
    expect((await api("GET", "/api/v1/operational-webhooks")).body.data.map((w: { id: string }) => w.id)).toEqual([ops.id]);
  });

  it("sends webhook.disabled when a customer's endpoint answers 410 Gone, signed, naming the customer, the webhook and why", async () => {
    rx.onPath("/gone", () => new Response(null, { status: 410 }));
    const gone = (await api("POST", "/api/v1/webhooks", { url: rx.url("/gone"), event_types: ["ops.gone"] })).body.id;
    await send("gone-1", "ops.gone");
    await waitFor("webhook.disabled", () => received().some((e) => e.type === "webhook.disabled" && e.data.webhook_id === gone), 20_000);
    const event = received().find((e) => e.type === "webhook.disabled" && e.data.webhook_id === gone)!;
    expect(event).toMatchObject({ source: "hookrelay", data: { customer_id: "default", webhook_id: gone, reason: expect.stringContaining("410 Gone") } });
    // A gone endpoint's delivery is dead too.
    await waitFor("delivery.dead of the 410", () => received().some((e) => e.type === "delivery.dead" && e.data.webhook_id === gone), 20_000);
  });

  it("sends delivery.dead when a delivery dies, with the delivery, its event, its attempts and the last answer", async () => {
    rx.onPath("/refuses", () => new Response("no", { status: 400 }));
    const refuses = (await api("POST", "/api/v1/webhooks", { url: rx.url("/refuses"), event_types: ["ops.refused"], permanent_failure_codes: [400] })).body.id;
    await send("refused-1", "ops.refused");
    await waitFor("delivery.dead", () => received().some((e) => e.type === "delivery.dead" && e.data.webhook_id === refuses), 20_000);
    const dead = received().find((e) => e.type === "delivery.dead" && e.data.webhook_id === refuses)!;
    expect(dead.data).toMatchObject({ customer_id: "default", event_id: `${mode}-refused-1`, attempts: 1, last_status_code: 400 });
    const delivery = (await api("GET", `/api/v1/deliveries/${dead.data.delivery_id}`)).body;
    expect({ status: delivery.status, event: delivery.event_id }).toEqual({ status: "dead", event: `${mode}-refused-1` });
  });

  it("sends webhook.paused when a breaker opens and webhook.resumed when a probe succeeds", async () => {
    let healthy = false;
    rx.onPath("/flaky", () => new Response(null, { status: healthy ? 204 : 503 }));
    const flaky = (await api("POST", "/api/v1/webhooks", { url: rx.url("/flaky"), event_types: ["ops.flaky"] })).body.id;
    for (let i = 0; i < 4; i++) await send(`flaky-${i}`, "ops.flaky");
    await waitFor("webhook.paused", () => received().some((e) => e.type === "webhook.paused" && e.data.webhook_id === flaky), 20_000);
    healthy = true;
    await waitFor("webhook.resumed", () => received().some((e) => e.type === "webhook.resumed" && e.data.webhook_id === flaky), 20_000);
    const [paused, resumed] = ["webhook.paused", "webhook.resumed"].map((type) => received().find((e) => e.type === type && e.data.webhook_id === flaky)!);
    expect(Date.parse(paused!.data.occurred_at)).toBeLessThanOrEqual(Date.parse(resumed!.data.occurred_at));
    // The customer's own list of what happened to its webhooks agrees.
    const own = (await api("GET", `/api/v1/operational-events?webhook_id=${flaky}`)).body.data.map((e: { id: string }) => e.id);
    expect(own).toEqual(expect.arrayContaining([paused!.id, resumed!.id]));
  });

  it("sends each operational event once, whichever turn or look-back read it", async () => {
    await Bun.sleep(500);
    const ids = received().map((e) => e.id);
    expect(ids.length).toBeGreaterThanOrEqual(5);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("takes operational event types only, answers only the operator, and shows customers none of it", async () => {
    const bad = await api("POST", "/api/v1/operational-webhooks", { url: rx.url("/ops2"), event_types: ["webhook.paused", "order.created"] });
    expect({ status: bad.status, message: bad.body.error.message }).toEqual({ status: 422, message: expect.stringContaining("event_types: 'order.created' is not an operational event type") });
    expect((await api("PATCH", `/api/v1/operational-webhooks/${ops.id}`, { event_types: ["nope"] })).status).toBe(422);
    expect((await api("PATCH", `/api/v1/operational-webhooks/${ops.id}`, { event_types: ["delivery.dead", "webhook.disabled"] })).body.event_types).toEqual(["delivery.dead", "webhook.disabled"]);
    const customer = (await api("POST", "/api/v1/customers", { name: `ops other ${mode}` })).body.id;
    const key = (await api("POST", `/api/v1/customers/${customer}/api-keys`, { name: "k", scopes: ["webhooks:read", "webhooks:write", "deliveries:read"] })).body.key;
    const other = client(hr.gateway, key);
    expect((await other("GET", "/api/v1/operational-webhooks")).status).toBe(403);
    expect((await other("POST", "/api/v1/operational-webhooks", { url: rx.url("/x"), event_types: ["*"] })).status).toBe(403);
    expect((await other("GET", `/api/v1/webhooks/${ops.id}`)).status).toBe(404);
    // The operator's own webhooks are not among the default customer's.
    expect((await api("GET", "/api/v1/webhooks?limit=1000")).body.data.map((w: { id: string }) => w.id)).not.toContain(ops.id);
    expect((await api("GET", `/api/v1/webhooks/${ops.id}`)).status).toBe(404);
    // A customer's "*" webhook never gets hookrelay's own events.
    expect(rx.received.filter((r) => r.path !== "/ops").some((r) => JSON.parse(r.body).source === "hookrelay")).toBe(false);
    expect((await api("DELETE", `/api/v1/operational-webhooks/${ops.id}`)).status).toBe(204);
    expect((await api("GET", "/api/v1/operational-webhooks")).body.data).toEqual([]);
  });
});
