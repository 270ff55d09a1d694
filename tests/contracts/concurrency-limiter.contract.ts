/**
 * @module The ConcurrencyLimiter contract: every adapter (memory, Redis) runs this suite. Time is
 * passed as `now`, so leases end without sleeping.
 */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import type { ConcurrencyLimiter } from "../../src/domain/ports.ts";

const T = 1_800_000_000_000;

/** `make` returns a limiter with no slots taken (a fresh instance or key prefix). */
export function describeConcurrencyLimiterContract(name: string, make: () => Promise<{ limiter: ConcurrencyLimiter; close(): Promise<void> }>): void {
  describe(`ConcurrencyLimiter contract: ${name}`, () => {
    it("hands out at most `limit` slots of a key, each again once released; keys are apart", async () => {
      const { limiter, close } = await make();
      try {
        const tokens = [await limiter.acquire("wh", 2, 60_000, T), await limiter.acquire("wh", 2, 60_000, T)];
        expect(tokens.every((t) => typeof t === "string")).toBe(true);
        expect(new Set(tokens).size).toBe(2);
        expect(await limiter.acquire("wh", 2, 60_000, T)).toBeNull();
        expect(await limiter.acquire("other", 2, 60_000, T)).not.toBeNull();
        await limiter.release("wh", tokens[0]!);
        expect(await limiter.acquire("wh", 2, 60_000, T)).not.toBeNull();
        expect(await limiter.acquire("wh", 2, 60_000, T)).toBeNull();
        await limiter.release("wh", "not-a-token"); // releasing what is not held changes nothing
        expect(await limiter.acquire("wh", 2, 60_000, T)).toBeNull();
      } finally {
        await close();
      }
    });

    it("frees a slot whose holder never released it once its lease ends", async () => {
      const { limiter, close } = await make();
      try {
        expect(await limiter.acquire("wh", 1, 1_000, T)).not.toBeNull();
        expect(await limiter.acquire("wh", 1, 1_000, T + 999)).toBeNull();
        expect(await limiter.acquire("wh", 1, 1_000, T + 1_000)).not.toBeNull();
      } finally {
        await close();
      }
    });

    it("never lets concurrent acquires take more than the limit", async () => {
      const { limiter, close } = await make();
      try {
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.integer({ min: 1, max: 30 }), async (limit, callers) => {
            const key = `k-${Math.random()}`;
            const got = await Promise.all(Array.from({ length: callers }, () => limiter.acquire(key, limit, 60_000, T)));
            expect(got.filter((t) => t !== null)).toHaveLength(Math.min(limit, callers));
          }),
          { numRuns: 30 },
        );
      } finally {
        await close();
      }
    });
  });
}
