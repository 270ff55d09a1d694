/** @module Runs the RateLimiter and ConcurrencyLimiter contracts on the in-memory adapters (embedded mode), plus what only they have: the sweep. */
import { describe, expect, it } from "bun:test";
import { MemoryConcurrencyLimiter } from "../../src/adapters/memory/concurrency-limiter.ts";
import { MemoryRateLimiter } from "../../src/adapters/memory/rate-limiter.ts";
import { describeConcurrencyLimiterContract } from "./concurrency-limiter.contract.ts";
import { describeRateLimiterContract } from "./rate-limiter.contract.ts";

describeRateLimiterContract("memory", async () => ({ limiter: new MemoryRateLimiter(), close: async () => {} }));
describeConcurrencyLimiterContract("memory", async () => ({ limiter: new MemoryConcurrencyLimiter(), close: async () => {} }));

describe("memory rate limiter sweep", () => {
  const T = 1_800_000_000_000;

  it("drops only buckets that are full again by their own limit, not by the limit of the call that sweeps", async () => {
    const limiter = new MemoryRateLimiter();
    const slow = { capacity: 10, refillPerSecond: 0.001 };
    expect(await limiter.take("slow", slow, 10, T)).toMatchObject({ allowed: true, remaining: 0 });
    // Enough calls on a fast limit to run a sweep; its buckets are full again after 1 ms.
    const fast = { capacity: 1, refillPerSecond: 1000 };
    for (let i = 0; i < 10_000; i++) await limiter.take(`fast:${i % 7}`, fast, 1, T + 10);
    expect(await limiter.take("slow", slow, 1, T + 10)).toMatchObject({ allowed: false, remaining: 0 });
  });

  it("forgets a bucket once it is full again, answering as for a new key", async () => {
    const limiter = new MemoryRateLimiter();
    const limit = { capacity: 2, refillPerSecond: 1 };
    await limiter.take("k", limit, 2, T);
    for (let i = 0; i < 10_000; i++) await limiter.take("other", limit, 0, T + 2000);
    expect((limiter as unknown as { buckets: Map<string, unknown> }).buckets.has("k")).toBe(false);
    expect(await limiter.take("k", limit, 1, T + 2000)).toEqual({ allowed: true, remaining: 1, retryAfterMs: 0, resetMs: 1000 });
  });
});
