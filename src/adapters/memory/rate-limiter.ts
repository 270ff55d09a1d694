/** @module The RateLimiter port in memory: token buckets for one process (embedded mode). */
import type { RateDecision, RateLimit, RateLimiter } from "../../domain/ports.ts";

interface Bucket {
  tokens: number;
  /** When tokens were last taken (the latest clock among callers): refill is counted from here. */
  at: number;
  /** When the bucket is full again if nothing is taken: from then on it is the same as no bucket. */
  fullAt: number;
}

/** Every this many calls, buckets that are full again are dropped, so memory follows active keys only. */
const SWEEP_EVERY = 10_000;

/** Refuses arguments that would break the bucket (a negative cost would add tokens). */
export function checkRateArgs(limit: RateLimit, cost: number): void {
  if (!(limit.capacity > 0 && Number.isFinite(limit.capacity))) throw new RangeError(`rate limit capacity must be a positive number, got ${limit.capacity}`);
  if (!(limit.refillPerSecond > 0 && Number.isFinite(limit.refillPerSecond))) throw new RangeError(`rate limit refillPerSecond must be a positive number, got ${limit.refillPerSecond}`);
  if (!(cost >= 0 && Number.isFinite(cost))) throw new RangeError(`rate limit cost must be zero or more, got ${cost}`);
}

/**
 * The fewest whole ms after which `tokens` refilled at `perSecond` reach `target`, by the very
 * arithmetic the refill uses (`tokens + ms / 1000 * perSecond`), so that waiting exactly this
 * long is always enough and one ms less never is, whatever the floating-point rounding.
 * The Redis adapter's Lua script mirrors it step for step.
 */
export function msUntil(tokens: number, target: number, perSecond: number): number {
  if (tokens >= target) return 0;
  let ms = Math.ceil(((target - tokens) / perSecond) * 1000);
  for (let i = 0; i < 4 && tokens + (ms / 1000) * perSecond < target; i++) ms++;
  for (let i = 0; i < 4 && ms > 1 && tokens + ((ms - 1) / 1000) * perSecond >= target; i++) ms--;
  return ms;
}

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private calls = 0;

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async take(key: string, limit: RateLimit, cost: number, now: number): Promise<RateDecision> {
    checkRateArgs(limit, cost);
    if (++this.calls % SWEEP_EVERY === 0) this.sweep(now);
    const { capacity, refillPerSecond: rate } = limit;
    const bucket = this.buckets.get(key);
    let tokens = capacity;
    let at = now;
    if (bucket) {
      // A caller whose clock is behind the last one (another process) neither refills nor drains.
      at = Math.max(bucket.at, now);
      tokens = Math.min(capacity, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * rate);
    }
    const allowed = cost <= tokens;
    if (allowed) tokens -= cost;
    const resetMs = msUntil(tokens, capacity, rate);
    // Only a call that takes something moves the bucket: refill is always counted from the last
    // take, so a wait answered here is exact however many refused calls come in between.
    if (allowed && cost > 0) {
      if (resetMs === 0) this.buckets.delete(key);
      else this.buckets.set(key, { tokens, at, fullAt: at + resetMs });
    }
    return {
      allowed,
      remaining: Math.floor(tokens),
      // A cost above capacity is never there: no wait makes it allowed.
      retryAfterMs: allowed ? 0 : cost > capacity ? Number.POSITIVE_INFINITY : msUntil(tokens, cost, rate) + (at - now),
      resetMs: resetMs + (at - now),
    };
  }

  /** Drops buckets that are full again, each by its own limit (keys may have different limits). */
  private sweep(now: number): void {
    for (const [key, bucket] of this.buckets) if (bucket.fullAt <= now) this.buckets.delete(key);
  }
}
