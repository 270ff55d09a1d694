/**
 * @module Rate limits on the HTTP surfaces: token buckets per client IP (checked before the
 * credentials, so guessing keys is limited too) and per customer (after them), one pair for ingest
 * (events) and one for the management API (requests), and a small budget of password checks per
 * client IP and per username (login). Answers carry `RateLimit-*` headers; a refusal is a 429
 * with `Retry-After`.
 */
import { RateLimitedError } from "../domain/errors.ts";
import type { RateDecision, RateLimit, RateLimiter } from "../domain/ports.ts";

export type Surface = "ingest" | "api";

/** Per second; 0 turns that limit off. */
export interface RateLimits {
  ingestPerIp: number;
  ingestPerCustomer: number;
  apiPerIp: number;
  apiPerCustomer: number;
  /** Password checks per minute from one client IP (a minute's worth may come at once); 0 or absent = no limit. */
  loginPerIp?: number;
  /** Password checks per minute for one username, whoever sends them; 0 or absent = no limit. */
  loginPerAccount?: number;
  /**
   * Embedded shards: whether this process stores the customer's events. The ingest bucket of a
   * customer another shard owns is charged by that shard when it takes the events (one bucket per
   * customer, whichever process the connections reach); absent = every customer is charged here.
   */
  ownsCustomer?: (customerId: string) => boolean;
}

/** The headers of the tightest bucket a request went through (draft-ietf-httpapi-ratelimit-headers). */
export type RateHeaders = Record<string, string>;

export class RateGate {
  constructor(
    private readonly limiter: RateLimiter,
    private readonly limits: RateLimits,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes `cost` from the client IP's bucket of `surface`; RateLimitedError when it is empty. */
  byIp(surface: Surface, ip: string | null, cost = 1): Promise<RateHeaders> {
    const perSecond = surface === "ingest" ? this.limits.ingestPerIp : this.limits.apiPerIp;
    return this.take(`${surface}:ip:${ip ?? "unknown"}`, perSecond, cost, `client ${ip ?? "unknown"}`);
  }

  /** Takes `cost` from the customer's bucket of `surface`; RateLimitedError when it is empty. */
  byCustomer(surface: Surface, customerId: string, cost = 1): Promise<RateHeaders> {
    if (surface === "ingest" && this.limits.ownsCustomer && !this.limits.ownsCustomer(customerId)) return Promise.resolve({});
    const perSecond = surface === "ingest" ? this.limits.ingestPerCustomer : this.limits.apiPerCustomer;
    return this.take(`${surface}:customer:${customerId}`, perSecond, cost, `customer '${customerId}'`);
  }

  /**
   * One password check's worth from the client IP's login bucket, then from the username's: a
   * budget of their own, far below what Argon2 can do, so guessing is slow and a flood of wrong
   * passwords cannot keep the hashing threads busy. Taken for unknown usernames alike (the answer
   * does not tell which exist). RateLimitedError when either is empty.
   */
  async login(ip: string | null, username: string): Promise<void> {
    const client = ip ?? "unknown";
    await this.takePerMinute(`login:ip:${client}`, this.limits.loginPerIp ?? 0, `client ${client}`);
    await this.takePerMinute(`login:account:${username}`, this.limits.loginPerAccount ?? 0, `account '${username}'`);
  }

  private async takePerMinute(key: string, perMinute: number, who: string): Promise<void> {
    if (perMinute <= 0) return;
    // A bucket holds one minute's worth: a burst of that size, then one every 60/perMinute s.
    const decision = await this.limiter.take(key, { capacity: perMinute, refillPerSecond: perMinute / 60 }, 1, this.now());
    if (!decision.allowed) {
      const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw new RateLimitedError(`login limit of ${perMinute}/min for ${who} reached; retry in ${retryAfter} s`, retryAfter, {
        "retry-after": String(retryAfter),
      });
    }
  }

  private async take(key: string, perSecond: number, cost: number, who: string): Promise<RateHeaders> {
    if (perSecond <= 0) return {};
    // A bucket holds one second's worth: a burst of that size, then the steady rate.
    const limit: RateLimit = { capacity: perSecond, refillPerSecond: perSecond };
    const decision = await this.limiter.take(key, limit, Math.min(cost, perSecond), this.now());
    const headers = rateHeaders(perSecond, decision);
    if (!decision.allowed) {
      const retryAfter = Math.max(1, Math.ceil(decision.retryAfterMs / 1000));
      throw new RateLimitedError(`rate limit of ${perSecond}/s for ${who} reached; retry in ${retryAfter} s`, retryAfter, {
        ...headers,
        "retry-after": String(retryAfter),
      });
    }
    return headers;
  }
}

function rateHeaders(perSecond: number, decision: RateDecision): RateHeaders {
  return {
    "ratelimit-limit": String(perSecond),
    "ratelimit-remaining": String(decision.remaining),
    "ratelimit-reset": String(Math.ceil(decision.resetMs / 1000)),
  };
}

/** Of two header sets, the one with fewer requests left (what a client must respect). */
export function tighter(a: RateHeaders, b: RateHeaders): RateHeaders {
  if (!a["ratelimit-remaining"]) return b;
  if (!b["ratelimit-remaining"]) return a;
  return Number(a["ratelimit-remaining"]) <= Number(b["ratelimit-remaining"]) ? a : b;
}
