/**
 * @module Webhook signing secrets at rest: sealed with AES-256-GCM under a configured key before
 * a store writes them, opened when it reads them. The first key seals; every key opens, so a key
 * is rotated by putting a new one first and keeping the old one until every secret was sealed again.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

const SEALED = "enc:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** What a sealed secret is bound to: its webhook (customer and id). */
export function secretOwner(customerId: string, webhookId: string): string {
  return `${customerId}/${webhookId}`;
}

/** `kid:base64` of 32 bytes, as configured. */
const KEY_SPEC = /^([A-Za-z0-9_-]{1,32}):([A-Za-z0-9+/_-]{43}=?)$/;

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecretBoxError";
  }
}

export class SecretBox {
  private readonly keys: Map<string, Buffer>;
  private readonly current: string | undefined;

  /** @param specs `kid:base64-key` entries, the sealing key first; none = secrets are kept as given. */
  constructor(specs: string[]) {
    this.keys = new Map();
    for (const [i, spec] of specs.entries()) {
      const key = parseKeySpec(spec);
      if (typeof key === "string") throw new SecretBoxError(`security.secret_keys[${i}]: ${key}`);
      if (this.keys.has(key.kid)) throw new SecretBoxError(`security.secret_keys[${i}]: key id '${key.kid}' appears twice`);
      this.keys.set(key.kid, key.key);
    }
    this.current = this.keys.keys().next().value;
  }

  /** True when secrets are sealed on write. */
  get sealing(): boolean {
    return this.current !== undefined;
  }

  /** The stored form of `secret` of the webhook `owner` (customer/id: a sealed secret moved to another row does not open). */
  seal(secret: string, owner: string): string {
    if (this.current === undefined) return secret;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.keys.get(this.current)!, iv);
    cipher.setAAD(Buffer.from(owner));
    const sealed = Buffer.concat([cipher.update(secret, "utf8"), cipher.final(), cipher.getAuthTag()]);
    return `${SEALED}${this.current}:${iv.toString("base64url")}:${sealed.toString("base64url")}`;
  }

  /** The secret in a stored value; a value stored before sealing was configured is returned as it is. */
  open(stored: string, owner: string): string {
    if (!stored.startsWith(SEALED)) return stored;
    const [kid, iv, sealed] = stored.slice(SEALED.length).split(":");
    const key = this.keys.get(kid ?? "");
    if (!key || !iv || !sealed) throw new SecretBoxError(`a webhook secret is sealed with key '${kid}', which is not in security.secret_keys`);
    const bytes = Buffer.from(sealed, "base64url");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key, Buffer.from(iv, "base64url"));
      decipher.setAAD(Buffer.from(owner));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(bytes.subarray(0, bytes.length - TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretBoxError(`a webhook secret sealed with key '${kid}' does not open (tampered, or moved from another webhook)`);
    }
  }

  /** True when `stored` is sealed with the current key (nothing to do for a re-seal). */
  isCurrent(stored: string): boolean {
    return this.current === undefined ? !stored.startsWith(SEALED) : stored.startsWith(`${SEALED}${this.current}:`);
  }
}

/** A `kid:base64` key, or what is wrong with it. */
export function parseKeySpec(spec: string): { kid: string; key: Buffer } | string {
  const match = KEY_SPEC.exec(spec.trim());
  if (!match) return "must be '<key id>:<base64 of 32 random bytes>' (make one with: openssl rand -base64 32)";
  const key = Buffer.from(match[2]!.replaceAll("-", "+").replaceAll("_", "/"), "base64");
  if (key.length !== 32) return `the key must be 32 bytes, got ${key.length}`;
  return { kid: match[1]!, key };
}
