// Retries over real sockets: exponential backoff, dead letters, and manual retry.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { messageIdFor } from "../../src/domain/ids.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const INITIAL_MS = 200;
const MULTIPLIER = 2;
const MAX_RETRIES = 3;
/** Slack for the retry manager's 50ms poll interval and a loaded 2-core machine. */
const SLACK_MS = 350;

describe.each(MODES)("retries (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: `${INITIAL_MS}ms`,
      HOOKRELAY_RETRY_MANAGER_BACKOFF_MULTIPLIER: String(MULTIPLIER),
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: String(MAX_RETRIES),
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      HOOKRELAY_RETRY_MANAGER_LEASE: "5s",
    });
    receiver = startReceiver();
    api = client(hr.gateway, await adminToken(hr.gateway));
  });

  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  async function deliveryOf(eventId: string, webhookId: string) {
    const res = await api("GET", `/api/v1/deliveries?event_id=${eventId}&webhook_id=${webhookId}`);
    return res.body.data[0];
  }

  describe("retries", () => {
    it("gets the event to a receiver that fails twice with 500, on the third attempt, after the configured backoff", async () => {
      receiver.onPath("/flaky", (_req, n) => (n <= 2 ? new Response("boom", { status: 500 }) : new Response("fine")));
      const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/flaky"), event_types: ["flaky"] });
      expect((await api("POST", "/api/v1/events", { id: "evt_flaky", type: "flaky", source: "t", data: {} })).status).toBe(202);

      await waitFor("third attempt", () => receiver.received.filter((r) => r.path === "/flaky").length >= 3, 10_000);
      const times = receiver.received.filter((r) => r.path === "/flaky").map((r) => r.at);
      const gaps = [times[1]! - times[0]!, times[2]! - times[1]!];
      expect(gaps[0]).toBeGreaterThanOrEqual(INITIAL_MS - 5);
      expect(gaps[0]).toBeLessThan(INITIAL_MS + SLACK_MS);
      expect(gaps[1]).toBeGreaterThanOrEqual(INITIAL_MS * MULTIPLIER - 5);
      expect(gaps[1]).toBeLessThan(INITIAL_MS * MULTIPLIER + SLACK_MS);
      // The same webhook-id on every attempt, so the receiver can dedupe.
      expect(new Set(receiver.received.filter((r) => r.path === "/flaky").map((r) => r.headers["webhook-id"]))).toEqual(new Set([messageIdFor("default", "evt_flaky")]));

      await waitFor("delivery recorded as succeeded", async () => (await deliveryOf("evt_flaky", hook.body.id)).status === "succeeded");
      const delivery = await deliveryOf("evt_flaky", hook.body.id);
      expect(delivery).toMatchObject({ status: "succeeded", attempt_count: 3, last_status_code: 200 });
      const attempts = await api("GET", `/api/v1/deliveries/${delivery.id}/attempts`);
      expect(attempts.body.data.map((a: { status_code: number }) => a.status_code)).toEqual([500, 500, 200]);
      expect(attempts.body.data[0]).toMatchObject({ error: "HTTP 500", response_body: "boom" });
    });

    it("marks a delivery dead after max_retries, lists it under status=dead, and delivers it on manual retry", async () => {
      let healthy = false;
      receiver.onPath("/down", () => (healthy ? new Response("back") : new Response("nope", { status: 503 })));
      const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/down"), event_types: ["down"] });
      await api("POST", "/api/v1/events", { id: "evt_down", type: "down", source: "t", data: {} });

      await waitFor("dead delivery", async () => (await deliveryOf("evt_down", hook.body.id))?.status === "dead", 15_000);
      expect(receiver.received.filter((r) => r.path === "/down")).toHaveLength(1 + MAX_RETRIES);
      const dead = await api("GET", `/api/v1/deliveries?status=dead&webhook_id=${hook.body.id}`);
      expect(dead.body.data).toHaveLength(1);
      expect(dead.body.data[0]).toMatchObject({ event_id: "evt_down", status: "dead", attempt_count: 1 + MAX_RETRIES, last_status_code: 503 });
      await Bun.sleep(INITIAL_MS * 4);
      expect(receiver.received.filter((r) => r.path === "/down")).toHaveLength(1 + MAX_RETRIES); // dead means no more tries

      healthy = true;
      const retried = await api("POST", `/api/v1/deliveries/${dead.body.data[0].id}/retry`);
      expect(retried.status).toBe(202);
      expect(retried.body.status).toBe("pending");
      await waitFor("manual retry delivered", async () => (await deliveryOf("evt_down", hook.body.id)).status === "succeeded", 10_000);
      expect(receiver.received.filter((r) => r.path === "/down")).toHaveLength(2 + MAX_RETRIES);
      expect((await deliveryOf("evt_down", hook.body.id)).attempt_count).toBe(2 + MAX_RETRIES);
    });

    it("gives a manually retried delivery a fresh round of retries", async () => {
      receiver.onPath("/never", () => new Response("no", { status: 500 }));
      const hook = await api("POST", "/api/v1/webhooks", { url: receiver.url("/never"), event_types: ["never"] });
      await api("POST", "/api/v1/events", { id: "evt_never", type: "never", source: "t", data: {} });
      await waitFor("first death", async () => (await deliveryOf("evt_never", hook.body.id))?.status === "dead", 15_000);
      const delivery = await deliveryOf("evt_never", hook.body.id);
      await api("POST", `/api/v1/deliveries/${delivery.id}/retry`);
      await waitFor(
        "second death",
        async () => {
          const d = await deliveryOf("evt_never", hook.body.id);
          return d.status === "dead" && d.attempt_count === 2 * (1 + MAX_RETRIES);
        },
        15_000,
      );
    });

    it("answers 404 for retrying an unknown delivery", async () => {
      const res = await api("POST", "/api/v1/deliveries/del_nope/retry");
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe("not_found");
    });
  });
});
