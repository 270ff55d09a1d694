// What a receiver's answer means, over real sockets, in both deployments:
//   - a status the webhook names as a permanent failure ends the delivery at once (dead, one request,
//     no retry), and the webhook stays active;
//   - 410 Gone disables the webhook at once: its reason is in the API, a `webhook.disabled`
//     operational event is listed, nothing more is sent to it, and what was still queued for it is
//     kept (not dropped): enabled again, the endpoint gets every one of those events, and new ones.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const PER_WEBHOOK = 4;

describe.each(MODES)("receiver signals (%s)", (mode) => {
  let hr: Instance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "5",
      // The sweep that brings back what waited while the webhook was disabled runs every second, a lease after.
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: String(PER_WEBHOOK),
    });
    rx = startReceiver();
    api = client(hr.gateway, await adminToken(hr.gateway));
  });

  afterAll(async () => {
    await hr.stop();
    rx.stop();
  });

  const requestsTo = (path: string) => rx.received.filter((r) => r.path === path);
  const send = async (ids: string[], type: string) => expect((await api("POST", "/api/v1/events/batch", { events: ids.map((id) => ({ id, type, source: "t", data: { id } })) })).status).toBe(202);
  const deliveriesOf = async (webhookId: string) =>
    (await api("GET", `/api/v1/deliveries?webhook_id=${webhookId}&limit=1000`)).body.data as { event_id: string; status: string; attempt_count: number; last_status_code: number | null }[];

  it("ends a delivery answered with one of the webhook's permanent failure codes at once: dead, one request, the webhook still active", async () => {
    rx.onPath("/strict", (req) => (eventIdOf(req.body).startsWith("evt_bad") ? new Response("bad request", { status: 400 }) : new Response("ok")));
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/strict"), event_types: ["strict.test"], permanent_failure_codes: [403, 400, 400] });
    expect(created.status).toBe(201);
    expect(created.body.permanent_failure_codes).toEqual([400, 403]); // distinct, in order
    const id = created.body.id as string;
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body).toMatchObject({ status: "active", disabled_reason: null, permanent_failure_codes: [400, 403] });

    await send(["evt_bad_1", "evt_bad_2", "evt_good_1"], "strict.test");
    await waitFor("every delivery finished", async () => (await deliveriesOf(id)).filter((d) => d.status === "dead" || d.status === "succeeded").length === 3, 15_000, 50);
    await Bun.sleep(500); // a retry would come after 100 ms
    const deliveries = await deliveriesOf(id);
    for (const bad of ["evt_bad_1", "evt_bad_2"]) {
      expect(deliveries.find((d) => d.event_id === bad)).toMatchObject({ status: "dead", attempt_count: 1, last_status_code: 400 });
      expect(requestsTo("/strict").filter((r) => eventIdOf(r.body) === bad)).toHaveLength(1);
    }
    expect(deliveries.find((d) => d.event_id === "evt_good_1")).toMatchObject({ status: "succeeded" });
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.status).toBe("active");

    // A status not named is retried as before: 500 three times, then 200.
    let fives = 0;
    rx.onPath("/strict", () => (++fives <= 2 ? new Response("later", { status: 500 }) : new Response("ok")));
    await send(["evt_retried"], "strict.test");
    await waitFor("the 500s retried until a 2xx", async () => (await deliveriesOf(id)).find((d) => d.event_id === "evt_retried")?.status === "succeeded", 15_000, 50);
    expect(requestsTo("/strict").filter((r) => eventIdOf(r.body) === "evt_retried")).toHaveLength(3);
  });

  it("refuses permanent failure codes outside 400-599 or too many, naming the field", async () => {
    for (const codes of [[200], [399], [600], Array.from({ length: 21 }, (_, i) => 400 + i), ["400"]]) {
      const res = await api("POST", "/api/v1/webhooks", { url: rx.url("/x"), event_types: ["x"], permanent_failure_codes: codes });
      expect(res.status).toBe(422);
      expect(res.body.error.code).toBe("validation_failed");
      expect(res.body.error.message).toContain("permanent_failure_codes");
    }
  });

  it("disables a webhook whose endpoint answers 410 Gone, sends it nothing more, and keeps what waited for it until it is enabled again", async () => {
    let gone = true;
    rx.onPath("/gone", () => (gone ? new Response("gone", { status: 410 }) : new Response("ok")));
    const hook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/gone"), event_types: ["gone.test"] })).body;
    const other = (await api("POST", "/api/v1/webhooks", { url: rx.url("/bystander"), event_types: ["gone.test"] })).body;
    const first = Array.from({ length: 40 }, (_, i) => `evt_gone_${i}`);
    await send(first, "gone.test");

    await waitFor("the webhook disabled", async () => (await api("GET", `/api/v1/webhooks/${hook.id}`)).body.status === "disabled", 15_000, 50);
    const disabled = (await api("GET", `/api/v1/webhooks/${hook.id}`)).body;
    expect(disabled.disabled_reason).toContain("410 Gone");
    const events = await api("GET", `/api/v1/operational-events?webhook_id=${hook.id}`);
    expect(events.status).toBe(200);
    expect(events.body.data).toHaveLength(1);
    expect(events.body.data[0]).toMatchObject({ type: "webhook.disabled", webhook_id: hook.id, reason: disabled.disabled_reason });
    // The operator's dashboard shows it disabled, and why.
    const board = await client(hr.observability, await adminToken(hr.gateway))("GET", "/api/webhooks");
    expect(board.body.data.find((w: { webhook_id: string }) => w.webhook_id === hook.id)).toMatchObject({ status: "disabled", health: "disabled", disabled_reason: disabled.disabled_reason });
    // Answers to the requests already in flight when it was disabled: at most the webhook's slots.
    await Bun.sleep(1_000);
    const answeredGone = requestsTo("/gone").length;
    expect(answeredGone).toBeGreaterThanOrEqual(1);
    expect(answeredGone).toBeLessThanOrEqual(PER_WEBHOOK);
    // Nothing else was sent to it, then or for events that came later; the other webhook got everything.
    await send(["evt_gone_late"], "gone.test");
    await waitFor("the bystander got every event", () => new Set(requestsTo("/bystander").map((r) => eventIdOf(r.body))).size === first.length + 1, 15_000, 50);
    await Bun.sleep(1_000);
    expect(requestsTo("/gone")).toHaveLength(answeredGone);
    // The deliveries answered 410 are dead after one attempt; none is failed (waiting for a retry).
    const stored = await deliveriesOf(hook.id);
    expect(stored.filter((d) => d.status === "dead")).toHaveLength(answeredGone);
    expect(stored.filter((d) => d.status === "dead").every((d) => d.attempt_count === 1 && d.last_status_code === 410)).toBe(true);
    expect(stored.filter((d) => d.status === "failed" || d.status === "succeeded")).toEqual([]);

    // Enabled again (the reason goes with it): what waited is sent, and so are new events.
    gone = false;
    const enabled = await api("PATCH", `/api/v1/webhooks/${hook.id}`, { status: "active" });
    expect(enabled.body).toMatchObject({ status: "active", disabled_reason: null });
    await send(["evt_after"], "gone.test");
    const deadIds = new Set(stored.filter((d) => d.status === "dead").map((d) => d.event_id));
    const expected = [...first.filter((id) => !deadIds.has(id)), "evt_after"];
    const okAt = () =>
      new Set(
        requestsTo("/gone")
          .slice(answeredGone)
          .map((r) => eventIdOf(r.body)),
      );
    await waitFor(
      () => `every waiting event sent once enabled: ${okAt().size} of ${expected.length}`,
      () => expected.every((id) => okAt().has(id)),
      30_000,
      100,
    );
    expect(
      requestsTo("/gone")
        .slice(answeredGone)
        .every((r) => !deadIds.has(eventIdOf(r.body))),
    ).toBe(true);
    expect(requestsTo("/gone").slice(answeredGone)).toHaveLength(expected.length); // each once
    expect((await api("GET", `/api/v1/webhooks/${other.id}`)).body.status).toBe("active");
  }, 60_000);
});
