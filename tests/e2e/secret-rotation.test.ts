// Secret rotation with overlap, in both deployments, over real sockets: after a rotation every
// delivery carries two signatures in `webhook-signature` (the new secret's and the old one's), so a
// receiver verifying with either passes, until the grace period the call gave ends; then only the new
// secret signs. A rotation with no grace period switches at once. Verified with the standardwebhooks
// package, as receivers do. Bad grace periods are refused naming the field.
import { afterAll, describe, expect, it } from "bun:test";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const GRACE_SECONDS = 3;

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Whether `secret` verifies the request as a receiver would (standardwebhooks checks each signature in the header). */
function verifies(secret: string, request: { body: string; headers: Record<string, string> }): boolean {
  try {
    new StandardWebhook(secret).verify(request.body, request.headers);
    return true;
  } catch {
    return false;
  }
}

describe.each(MODES)("secret rotation (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;

  it("starts", async () => {
    hr = childInstance(await modeEnv(mode));
    cleanups.push(() => hr.proc?.kill(9));
    await hr.start();
    rx = startReceiver();
    cleanups.push(() => rx.stop());
    const token = await adminToken(hr.gateway);
    api = client(hr.gateway, token);
    ingest = client(hr.ingest, token);
  });

  it("signs with the old and the new secret during the grace period, then with the new one only", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/rotating"), event_types: ["rotation.test"] });
    expect(created.status).toBe(201);
    const { id, secret: oldSecret } = created.body;
    expect(created.body.previous_secret_expires_at).toBeNull();
    const deliver = async (eventId: string) => {
      expect((await ingest("POST", "/events", { id: eventId, type: "rotation.test", source: "t", data: {} })).status).toBe(202);
      await waitFor(`${eventId} delivered`, () => rx.received.some((r) => r.path === "/rotating" && eventIdOf(r.body) === eventId));
      return rx.received.find((r) => r.path === "/rotating" && eventIdOf(r.body) === eventId)!;
    };

    const before = await deliver("rot_before");
    expect(verifies(oldSecret, before)).toBe(true);

    const startedAt = Date.now();
    const rotated = await api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { grace_period_seconds: GRACE_SECONDS });
    expect(rotated.status).toBe(200);
    const newSecret: string = rotated.body.secret;
    expect(newSecret).not.toBe(oldSecret);
    const expiresAt = Date.parse(rotated.body.previous_secret_expires_at);
    expect(expiresAt).toBeGreaterThanOrEqual(startedAt + GRACE_SECONDS * 1000 - 1000);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + GRACE_SECONDS * 1000);
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.previous_secret_expires_at).toBe(rotated.body.previous_secret_expires_at);

    const during = await deliver("rot_during");
    expect(during.headers["webhook-signature"]!.split(" ")).toHaveLength(2);
    expect({ old: verifies(oldSecret, during), new: verifies(newSecret, during) }).toEqual({ old: true, new: true });

    await Bun.sleep(Math.max(0, expiresAt - Date.now()) + 500);
    const after = await deliver("rot_after");
    expect(after.headers["webhook-signature"]!.split(" ")).toHaveLength(1);
    expect({ old: verifies(oldSecret, after), new: verifies(newSecret, after) }).toEqual({ old: false, new: true });
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.previous_secret_expires_at).toBeNull();

    // No grace period: the next delivery is signed with the newest secret alone.
    const atOnce = await api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { grace_period_seconds: 0 });
    expect(atOnce.status).toBe(200);
    expect(atOnce.body.previous_secret_expires_at).toBeNull();
    const switched = await deliver("rot_at_once");
    expect({ previous: verifies(newSecret, switched), newest: verifies(atOnce.body.secret, switched) }).toEqual({ previous: false, newest: true });
  }, 60_000);

  it("keeps the old secret 24 hours by default, and takes a chosen new secret", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/default-grace"), event_types: ["rotation.default"] });
    const chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const rotated = await api("POST", `/api/v1/webhooks/${created.body.id}/rotate-secret`, { secret: chosen });
    expect(rotated.status).toBe(200);
    expect(rotated.body.secret).toBe(chosen);
    const hours = (Date.parse(rotated.body.previous_secret_expires_at) - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(23.9);
    expect(hours).toBeLessThanOrEqual(24);
    // And with no body at all, as before.
    expect((await api("POST", `/api/v1/webhooks/${created.body.id}/rotate-secret`)).status).toBe(200);
  });

  it("refuses a grace period out of bounds, or an unknown field, naming it", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/bad-grace"), event_types: ["rotation.bad"] });
    for (const body of [{ grace_period_seconds: -1 }, { grace_period_seconds: 8 * 24 * 3600 }, { grace_period_seconds: 1.5 }, { grace: 10 }, { secret: "nope" }]) {
      const res = await api("POST", `/api/v1/webhooks/${created.body.id}/rotate-secret`, body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 422, code: "validation_failed" });
      expect(res.body.error.message).toMatch(/grace_period_seconds|grace|secret/);
    }
    // Nothing changed: the secret is the one it was created with.
    expect((await api("GET", `/api/v1/webhooks/${created.body.id}/secret`)).body.secret).toBe(created.body.secret);
  });
});
