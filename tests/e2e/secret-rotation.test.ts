// Signing secrets, in both deployments, over real sockets. Rotation with overlap: after a rotation
// every delivery carries two signatures in `webhook-signature` (the new secret's and the old one's),
// so a receiver verifying with either passes, until the grace period the call gave ends; then only
// the new secret signs; with no grace period it switches at once (verified with the standardwebhooks
// package, as receivers do). Ed25519 (opt-in per webhook): `v1a` signatures that Node's own
// crypto.verify accepts with the webhook's `whpk_` public key, rotated with overlap the same way.
// Bad grace periods and secrets are refused naming the field.
import { afterAll, describe, expect, it } from "bun:test";
import { verify } from "node:crypto";
import { Webhook as StandardWebhook } from "standardwebhooks";
import { publicKeyObject } from "../../src/domain/signature.ts";
import { type client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { startChildWithReceiver } from "../helpers/process.ts";
import { eventIdOf, type Receiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const GRACE_SECONDS = 3;

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** Whether the request carries a v1a signature `publicKey` verifies, checked with Node's crypto (not hookrelay's code). */
function verifiesEd25519(publicKey: string, request: { body: string; headers: Record<string, string> }): boolean {
  const signed = Buffer.from(`${request.headers["webhook-id"]}.${request.headers["webhook-timestamp"]}.${request.body}`);
  return request.headers["webhook-signature"]!.split(" ")
    .filter((entry) => entry.startsWith("v1a,"))
    .some((entry) => verify(null, signed, publicKeyObject(publicKey), Buffer.from(entry.slice(4), "base64")));
}

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
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;

  it("starts", async () => {
    ({ rx, api, ingest } = await startChildWithReceiver(await modeEnv(mode), cleanups));
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

  it("signs an Ed25519 webhook's deliveries v1a, verifiable with its public key, and rotates the key pair with overlap", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/ed25519"), event_types: ["ed.test"], signature_scheme: "ed25519" });
    expect(created.status).toBe(201);
    const { id, public_key: oldKey, secret: secretKey, signature_scheme: scheme } = created.body;
    expect({ scheme, oldKey, secretKey }).toEqual({ scheme: "ed25519", oldKey: expect.stringMatching(/^whpk_/), secretKey: expect.stringMatching(/^whsk_/) });
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.public_key).toBe(oldKey); // a read shows the public key, never the secret key
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.secret).toBeUndefined();
    const deliver = async (eventId: string) => {
      expect((await ingest("POST", "/events", { id: eventId, type: "ed.test", source: "t", data: { n: 1 } })).status).toBe(202);
      await waitFor(`${eventId} delivered`, () => rx.received.some((r) => r.path === "/ed25519" && eventIdOf(r.body) === eventId));
      return rx.received.find((r) => r.path === "/ed25519" && eventIdOf(r.body) === eventId)!;
    };
    const first = await deliver("ed_1");
    expect(first.headers["webhook-signature"]).toStartWith("v1a,");
    expect(verifiesEd25519(oldKey, first)).toBe(true);
    expect(verifiesEd25519(oldKey, { ...first, body: first.body.replace('"n":1', '"n":2') })).toBe(false);

    const rotated = await api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { grace_period_seconds: GRACE_SECONDS });
    const newKey: string = rotated.body.public_key;
    expect({ scheme: rotated.body.signature_scheme, secret: rotated.body.secret }).toEqual({ scheme: "ed25519", secret: expect.stringMatching(/^whsk_/) });
    expect(newKey).not.toBe(oldKey);
    const during = await deliver("ed_2");
    expect({ old: verifiesEd25519(oldKey, during), new: verifiesEd25519(newKey, during) }).toEqual({ old: true, new: true });
    await Bun.sleep(Math.max(0, Date.parse(rotated.body.previous_secret_expires_at) - Date.now()) + 500);
    const after = await deliver("ed_3");
    expect({ old: verifiesEd25519(oldKey, after), new: verifiesEd25519(newKey, after) }).toEqual({ old: false, new: true });

    // Back to HMAC by a rotation that asks for it: the old key pair still signs (v1a) during the period.
    const toHmac = await api("POST", `/api/v1/webhooks/${id}/rotate-secret`, { signature_scheme: "hmac_sha256", grace_period_seconds: 60 });
    const hmacSecret: string = toHmac.body.secret;
    expect({ scheme: toHmac.body.signature_scheme, key: toHmac.body.public_key, hmacSecret }).toEqual({ scheme: "hmac_sha256", key: null, hmacSecret: expect.stringMatching(/^whsec_/) });
    const mixed = await deliver("ed_4");
    expect({ hmac: verifies(hmacSecret, mixed), ed25519: verifiesEd25519(newKey, mixed) }).toEqual({ hmac: true, ed25519: true });
  }, 60_000);

  it("refuses a grace period out of bounds, or an unknown field, naming it", async () => {
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/bad-grace"), event_types: ["rotation.bad"] });
    for (const body of [
      { grace_period_seconds: -1 },
      { grace_period_seconds: 8 * 24 * 3600 },
      { grace_period_seconds: 1.5 },
      { grace: 10 },
      { secret: "nope" },
      { secret: `whsk_${Buffer.alloc(16).toString("base64")}` },
      { secret: `whsec_${Buffer.alloc(32, 1).toString("base64")}`, signature_scheme: "ed25519" },
      { signature_scheme: "rsa" },
    ]) {
      const res = await api("POST", `/api/v1/webhooks/${created.body.id}/rotate-secret`, body);
      expect({ body, status: res.status, code: res.body.error?.code }).toEqual({ body, status: 422, code: "validation_failed" });
      expect(res.body.error.message).toMatch(/grace_period_seconds|grace|secret|signature_scheme/);
    }
    // Nothing changed: the secret is the one it was created with.
    expect((await api("GET", `/api/v1/webhooks/${created.body.id}/secret`)).body.secret).toBe(created.body.secret);
  });
});
