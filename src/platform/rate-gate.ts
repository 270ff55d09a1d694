/**
 * @module Rate limits on the HTTP surfaces: token buckets per client IP (checked before the
 * credentials, so guessing keys is limited too) and per customer (after them), one pair for ingest
 * (events) and one for the management API (requests). Answers carry `RateLimit-*` headers; a
 * refusal is a 429 with `Retry-After`.
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
    const perSecond = surface === "ingest" ? this.limits.ingestPerCustomer : this.limits.apiPerCustomer;
    return this.take(`${surface}:customer:${customerId}`, perSecond, cost, `customer '${customerId}'`);
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
