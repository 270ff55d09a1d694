/** @module The RateLimiter port in memory: token buckets for one process (embedded mode). */
import type { RateDecision, RateLimit, RateLimiter } from "../../domain/ports.ts";

interface Bucket {
  tokens: number;
  at: number;
}

/** Buckets idle this long are full again and are dropped, so memory follows active keys only. */
const SWEEP_EVERY = 10_000;

export class MemoryRateLimiter implements RateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private calls = 0;

  ping(): Promise<void> {
    return Promise.resolve();
  }

  async take(key: string, limit: RateLimit, cost: number, now: number): Promise<RateDecision> {
    if (++this.calls % SWEEP_EVERY === 0) this.sweep(limit, now);
    const bucket = this.buckets.get(key) ?? { tokens: limit.capacity, at: now };
    const refilled = Math.min(limit.capacity, bucket.tokens + ((now - bucket.at) / 1000) * limit.refillPerSecond);
    const allowed = refilled >= cost;
    const tokens = allowed ? refilled - cost : refilled;
    this.buckets.set(key, { tokens, at: now });
    const msFor = (missing: number) => Math.ceil((Math.max(0, missing) / limit.refillPerSecond) * 1000);
    return {
      allowed,
      remaining: Math.floor(tokens),
      retryAfterMs: allowed ? 0 : msFor(cost - tokens),
      resetMs: msFor(limit.capacity - tokens),
    };
  }

  private sweep(limit: RateLimit, now: number): void {
    const fullAfterMs = (limit.capacity / limit.refillPerSecond) * 1000;
    for (const [key, bucket] of this.buckets) if (now - bucket.at > fullAfterMs) this.buckets.delete(key);
  }
}
