/**
 * @module Standard Webhooks signing: `webhook-id`, `webhook-timestamp`, and `webhook-signature`
 * with `v1,` (HMAC-SHA256, a `whsec_` secret) or `v1a,` (Ed25519, a `whsk_` secret key whose
 * `whpk_` public key receivers verify with).
 */
import { createPrivateKey, createPublicKey, type KeyObject, randomBytes, sign as signWith } from "node:crypto";

const PREFIX = "whsec_";
const SECRET_KEY_PREFIX = "whsk_";
const PUBLIC_KEY_PREFIX = "whpk_";
/** DER of a PKCS#8 Ed25519 private key up to its 32-byte seed, and of an SPKI public key up to its 32 bytes (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

/** How a webhook's deliveries are signed: HMAC-SHA256 with a shared secret, or Ed25519 with a key pair. */
export type SignatureScheme = "hmac_sha256" | "ed25519";

/** A decoded signing key: the HMAC key bytes, or an Ed25519 private key. */
export type SigningKey = Buffer | KeyObject;

/** A new signing secret: `whsec_` + base64 of 32 random bytes, or (Ed25519) `whsk_` + base64 of a 32-byte seed. */
export function newSecret(scheme: SignatureScheme = "hmac_sha256"): string {
  return (scheme === "ed25519" ? SECRET_KEY_PREFIX : PREFIX) + randomBytes(32).toString("base64");
}

/** Which scheme a secret is for: `whsk_` Ed25519, anything else HMAC. */
export function schemeOf(secret: string): SignatureScheme {
  return secret.startsWith(SECRET_KEY_PREFIX) ? "ed25519" : "hmac_sha256";
}

/** The bytes inside a secret: after `whsec_`/`whsk_`, base64. */
export function secretBytes(secret: string): Buffer {
  const encoded = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret.startsWith(SECRET_KEY_PREFIX) ? secret.slice(SECRET_KEY_PREFIX.length) : secret;
  return Buffer.from(encoded, "base64");
}

/** The key inside a secret: HMAC bytes for `whsec_`, an Ed25519 private key for `whsk_` (its 32-byte seed, or 64 bytes of seed and public key). */
export function signingKey(secret: string): SigningKey {
  const bytes = secretBytes(secret);
  if (schemeOf(secret) === "hmac_sha256") return bytes;
  return createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, bytes.subarray(0, 32)]), format: "der", type: "pkcs8" });
}

/** The `whpk_` public key receivers verify an Ed25519 webhook's signatures with; null for an HMAC secret. */
export function publicKeyOf(secret: string): string | null {
  const key = signingKey(secret);
  if (Buffer.isBuffer(key)) return null;
  const spki = createPublicKey(key).export({ format: "der", type: "spki" });
  return PUBLIC_KEY_PREFIX + spki.subarray(ED25519_SPKI_PREFIX.length).toString("base64");
}

/** An Ed25519 public key from its `whpk_` form, as Node's crypto verifies with it. */
export function publicKeyObject(publicKey: string): KeyObject {
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, Buffer.from(publicKey.slice(PUBLIC_KEY_PREFIX.length), "base64")]), format: "der", type: "spki" });
}

/** `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, or `v1a,<base64 Ed25519 signature of the same>`. */
export function sign(key: SigningKey, messageId: string, timestampSeconds: number, body: string): string {
  if (!Buffer.isBuffer(key)) return `v1a,${signWith(null, Buffer.from(`${messageId}.${timestampSeconds}.${body}`), key).toString("base64")}`;
  // Bun's native hasher: 0.67 µs per signature against createHmac's 1.12 (same bytes).
  const mac = new Bun.CryptoHasher("sha256", key).update(`${messageId}.${timestampSeconds}.`).update(body).digest("base64");
  return `v1,${mac}`;
}

/**
 * The three signing headers for one attempt. With more than one key (a secret being rotated: the
 * new one first, then the old one during its grace period) `webhook-signature` carries a signature
 * per key, space separated, as Standard Webhooks specifies: a receiver holding either secret verifies it.
 */
export function signatureHeaders(key: SigningKey | SigningKey[], messageId: string, timestampSeconds: number, body: string): Record<string, string> {
  const keys = Array.isArray(key) ? key : [key];
  return {
    "webhook-id": messageId,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": keys.map((k) => sign(k, messageId, timestampSeconds, body)).join(" "),
  };
}

/** Caches decoded keys per webhook so a hot path never decodes a secret twice. */
export class SigningKeys {
  private readonly keys = new Map<string, { secret: string; key: SigningKey }>();

  keyFor(webhookId: string, secret: string): SigningKey {
    const cached = this.keys.get(webhookId);
    if (cached && cached.secret === secret) return cached.key;
    const key = signingKey(secret);
    this.keys.set(webhookId, { secret, key });
    return key;
  }
}
