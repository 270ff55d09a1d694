/** @module Unit tests of Standard Webhooks signing: the spec vector, interop with the reference library, secrets, key cache. */
import { describe, expect, it } from "bun:test";
import { Webhook } from "standardwebhooks";
import { newSecret, SigningKeys, sign, signatureHeaders, signingKey } from "./signature.ts";

// The vector from the Standard Webhooks reference tests.
const SPEC = {
  secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
  id: "msg_p5jXN8AQM9LWM0D4loKWxJek",
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
};

describe("sign", () => {
  it("reproduces the Standard Webhooks spec vector", () => {
    expect(sign(signingKey(SPEC.secret), SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });

  it("changes when any of id, timestamp or body changes", () => {
    const key = signingKey(SPEC.secret);
    expect(sign(key, "msg_other", SPEC.timestamp, SPEC.body)).not.toBe(SPEC.signature);
    expect(sign(key, SPEC.id, SPEC.timestamp + 1, SPEC.body)).not.toBe(SPEC.signature);
    expect(sign(key, SPEC.id, SPEC.timestamp, '{"test": 2432232315}')).not.toBe(SPEC.signature);
  });

  it("accepts a secret without the whsec_ prefix as the bare base64 key", () => {
    expect(sign(signingKey(SPEC.secret.slice("whsec_".length)), SPEC.id, SPEC.timestamp, SPEC.body)).toBe(SPEC.signature);
  });
});

describe("signatureHeaders", () => {
  it("names the three Standard Webhooks headers with the message id and unix seconds", () => {
    const headers = signatureHeaders(signingKey(SPEC.secret), SPEC.id, SPEC.timestamp, SPEC.body);
    expect(headers).toEqual({
      "webhook-id": SPEC.id,
      "webhook-timestamp": "1614265330",
      "webhook-signature": SPEC.signature,
    });
  });

  it("produces headers the standardwebhooks library verifies", () => {
    const secret = newSecret();
    const body = JSON.stringify({ id: "evt_1", type: "order.created", source: "shop", data: { total: 12.5, note: "é ✓" } });
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders(signingKey(secret), "del_01abc", now, body);
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));
  });

  it("produces headers the library rejects when the body was tampered with", () => {
    const secret = newSecret();
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders(signingKey(secret), "del_01abc", now, '{"a":1}');
    expect(() => new Webhook(secret).verify('{"a":2}', headers)).toThrow();
  });

  it("signs with every key given, space separated: a receiver holding either secret verifies, one holding neither does not", () => {
    const [current, previous] = [newSecret(), newSecret()];
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders([signingKey(current), signingKey(previous)], "del_01abc", now, '{"a":1}');
    expect(headers["webhook-signature"]).toBe(`${sign(signingKey(current), "del_01abc", now, '{"a":1}')} ${sign(signingKey(previous), "del_01abc", now, '{"a":1}')}`);
    expect(new Webhook(current).verify('{"a":1}', headers)).toEqual({ a: 1 });
    expect(new Webhook(previous).verify('{"a":1}', headers)).toEqual({ a: 1 });
    expect(() => new Webhook(newSecret()).verify('{"a":1}', headers)).toThrow();
  });

  it("produces headers the library rejects under another secret", () => {
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders(signingKey(newSecret()), "del_01abc", now, '{"a":1}');
    expect(() => new Webhook(newSecret()).verify('{"a":1}', headers)).toThrow();
  });
});

describe("newSecret", () => {
  it("is whsec_ followed by the base64 of 32 bytes", () => {
    const secret = newSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(signingKey(secret).length).toBe(32);
  });

  it("differs on every call", () => {
    const secrets = new Set(Array.from({ length: 50 }, () => newSecret()));
    expect(secrets.size).toBe(50);
  });
});

describe("SigningKeys", () => {
  it("returns the same decoded key object while the secret is unchanged", () => {
    const keys = new SigningKeys();
    const first = keys.keyFor("wh_1", SPEC.secret);
    expect(first.equals(signingKey(SPEC.secret))).toBe(true);
    expect(keys.keyFor("wh_1", SPEC.secret)).toBe(first);
  });

  it("notices a rotated secret and decodes the new key", () => {
    const keys = new SigningKeys();
    const before = keys.keyFor("wh_1", SPEC.secret);
    const rotated = newSecret();
    const after = keys.keyFor("wh_1", rotated);
    expect(after.equals(before)).toBe(false);
    expect(after.equals(signingKey(rotated))).toBe(true);
    expect(keys.keyFor("wh_1", rotated)).toBe(after);
  });

  it("keeps one key per webhook", () => {
    const keys = new SigningKeys();
    const other = newSecret();
    keys.keyFor("wh_1", SPEC.secret);
    expect(keys.keyFor("wh_2", other).equals(signingKey(other))).toBe(true);
    expect(keys.keyFor("wh_1", SPEC.secret).equals(signingKey(SPEC.secret))).toBe(true);
  });
});
