/**
 * @module API keys: made for one customer with the scopes it grants, shown once, stored as a
 * SHA-256 hash, revocable and optionally expiring. A key is checked against the store once and
 * then remembered for a few seconds, so an ingest path taking thousands of requests a second
 * with one key reads the store about once per `cacheMs`.
 */
import { createHash, randomBytes } from "node:crypto";
import { NotFoundError, UnauthorizedError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { ApiKey } from "../../domain/model.ts";
import type { Accounts } from "../../domain/ports.ts";
import type { Principal } from "./tokens.ts";

/** Every key starts with this, so a bearer value can be told from a JWT without parsing it. */
export const API_KEY_PREFIX = "hrk_";
/** Characters of a key kept in the clear (and shown in lists): `hrk_` and 8 more. */
const VISIBLE_CHARS = 12;
/** Remembered answers (a producer sends thousands of requests with one key). */
const CACHE_SIZE = 10_000;

export interface NewKey {
  name: string;
  scopes: string[];
  expiresAt: number | null;
}

interface Remembered {
  /** The principal, or why the key is refused. */
  outcome: Principal | string;
  /** When the key itself expires (ms), if it does. */
  expiresAt: number | null;
  /** When this answer must be checked against the store again (ms). */
  until: number;
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export class ApiKeys {
  private readonly remembered = new Map<string, Remembered>();

  constructor(
    private readonly accounts: Accounts,
    private readonly now: () => number = Date.now,
    /** How long a revocation in another process may take to be seen here, ms. */
    private readonly cacheMs = 5000,
  ) {}

  /** Makes a key for `customerId`; the returned `secret` is the only time the key is seen whole. */
  async issue(customerId: string, spec: NewKey): Promise<{ key: ApiKey; secret: string }> {
    if (!(await this.accounts.getCustomer(customerId))) throw new NotFoundError("customer", customerId);
    const secret = `${API_KEY_PREFIX}${randomBytes(24).toString("base64url")}`;
    const now = this.now();
    const key: ApiKey = {
      id: newId("key", now),
      customerId,
      name: spec.name,
      prefix: secret.slice(0, VISIBLE_CHARS),
      hash: hashKey(secret),
      scopes: [...spec.scopes],
      createdAt: now,
      expiresAt: spec.expiresAt,
      revokedAt: null,
    };
    await this.accounts.createApiKey(key);
    return { key, secret };
  }

  async list(customerId: string): Promise<ApiKey[]> {
    if (!(await this.accounts.getCustomer(customerId))) throw new NotFoundError("customer", customerId);
    return this.accounts.listApiKeys(customerId);
  }

  /** Revokes at once in this process; other processes see it within `cacheMs`. */
  async revoke(customerId: string, id: string): Promise<ApiKey> {
    const key = await this.accounts.revokeApiKey(customerId, id, this.now());
    if (!key) throw new NotFoundError("API key", id);
    this.remembered.delete(key.hash);
    return key;
  }

  /** The principal a key stands for; UnauthorizedError saying why when it is unknown, revoked or expired. */
  async verify(secret: string): Promise<Principal> {
    const hash = hashKey(secret);
    const now = this.now();
    let known = this.remembered.get(hash);
    if (!known || known.until <= now) {
      known = this.answer(await this.accounts.apiKeyByHash(hash), now);
      if (this.remembered.size >= CACHE_SIZE) this.remembered.delete(this.remembered.keys().next().value!);
      this.remembered.set(hash, known);
    }
    if (typeof known.outcome === "string") throw new UnauthorizedError(known.outcome);
    if (known.expiresAt !== null && known.expiresAt <= now) throw new UnauthorizedError("API key expired");
    return known.outcome;
  }

  private answer(key: ApiKey | undefined, now: number): Remembered {
    const until = now + this.cacheMs;
    if (!key) return { outcome: "API key is invalid", expiresAt: null, until };
    if (key.revokedAt !== null) return { outcome: "API key revoked", expiresAt: null, until };
    const principal = Object.freeze({ subject: `key:${key.id}`, customerId: key.customerId, scopes: Object.freeze([...key.scopes]) as string[] });
    return { outcome: principal, expiresAt: key.expiresAt, until };
  }
}
