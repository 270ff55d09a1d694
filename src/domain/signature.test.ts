/** @module Unit tests of Standard Webhooks signing: the spec vector, interop with the reference library, secrets, key cache. */
import { describe, expect, it } from "bun:test";
import { verify } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { newSecret, publicKeyObject, publicKeyOf, SigningKeys, schemeOf, secretBytes, sign, signatureHeaders, signingKey } from "./signature.ts";

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
    expect(secretBytes(secret).length).toBe(32);
  });

  it("differs on every call", () => {
    const secrets = new Set(Array.from({ length: 50 }, () => newSecret()));
    expect(secrets.size).toBe(50);
  });
});

describe("SigningKeys", () => {
  it("returns the same decoded key object while the secret is unchanged", () => {
    const keys = new SigningKeys();
    const first = keys.keyFor("wh_1", SPEC.secret) as Buffer;
    expect(first.equals(secretBytes(SPEC.secret))).toBe(true);
    expect(keys.keyFor("wh_1", SPEC.secret)).toBe(first);
  });

  it("notices a rotated secret and decodes the new key", () => {
    const keys = new SigningKeys();
    const before = keys.keyFor("wh_1", SPEC.secret) as Buffer;
    const rotated = newSecret();
    const after = keys.keyFor("wh_1", rotated) as Buffer;
    expect(after.equals(before)).toBe(false);
    expect(after.equals(secretBytes(rotated))).toBe(true);
    expect(keys.keyFor("wh_1", rotated)).toBe(after);
  });

  it("keeps one key per webhook", () => {
    const keys = new SigningKeys();
    const other = newSecret();
    keys.keyFor("wh_1", SPEC.secret);
    expect((keys.keyFor("wh_2", other) as Buffer).equals(secretBytes(other))).toBe(true);
    expect((keys.keyFor("wh_1", SPEC.secret) as Buffer).equals(secretBytes(SPEC.secret))).toBe(true);
  });
});

describe("Ed25519 (v1a)", () => {
  it("signs with a whsk_ secret key what Node's crypto.verify accepts with its whpk_ public key, and nothing else", () => {
    const secret = newSecret("ed25519");
    expect(secret).toMatch(/^whsk_[A-Za-z0-9+/]{43}=$/);
    expect(schemeOf(secret)).toBe("ed25519");
    const publicKey = publicKeyOf(secret)!;
    expect(publicKey).toMatch(/^whpk_[A-Za-z0-9+/]{43}=$/);
    const now = Math.floor(Date.now() / 1000);
    const headers = signatureHeaders(signingKey(secret), "msg_1", now, '{"a":1}');
    const [version, signature] = headers["webhook-signature"]!.split(",");
    expect(version).toBe("v1a");
    const signed = Buffer.from(`msg_1.${now}.{"a":1}`);
    expect(verify(null, signed, publicKeyObject(publicKey), Buffer.from(signature!, "base64"))).toBe(true);
    expect(verify(null, Buffer.from(`msg_1.${now}.{"a":2}`), publicKeyObject(publicKey), Buffer.from(signature!, "base64"))).toBe(false);
    expect(verify(null, signed, publicKeyObject(publicKeyOf(newSecret("ed25519"))!), Buffer.from(signature!, "base64"))).toBe(false);
  });

  it("reads a 64-byte secret key (seed and public key, as libsodium keeps it) as its seed", () => {
    const seed = newSecret("ed25519");
    const publicKey = publicKeyOf(seed)!;
    const long = `whsk_${Buffer.concat([secretBytes(seed), Buffer.from(publicKey.slice(5), "base64")]).toString("base64")}`;
    expect(publicKeyOf(long)).toBe(publicKey);
    expect(sign(signingKey(long), "m", 1, "b")).toBe(sign(signingKey(seed), "m", 1, "b"));
  });

  it("mixes with HMAC during a rotation: one v1 and one v1a signature, each verifiable on its own", () => {
    const [hmac, ed] = [newSecret(), newSecret("ed25519")];
    const headers = signatureHeaders([signingKey(ed), signingKey(hmac)], "msg_2", 1_700_000_000, "{}");
    const [v1a, v1] = headers["webhook-signature"]!.split(" ");
    expect(v1a).toStartWith("v1a,");
    expect(v1).toBe(sign(signingKey(hmac), "msg_2", 1_700_000_000, "{}"));
    expect(publicKeyOf(hmac)).toBeNull();
  });
});
