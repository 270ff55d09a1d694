/**
 * @module The RateLimiter contract: every adapter (memory, Redis) runs this suite.
 * Time is passed explicitly as `now`, so refill is tested without sleeping.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { RateLimit, RateLimiter } from "../../src/domain/ports.ts";

export interface RateLimiterFixture {
  limiter: RateLimiter;
  close(): Promise<void>;
}

const T = 1_800_000_000_000;

/**
 * Runs the RateLimiter contract. `makeLimiter` is called once per test and must return a
 * limiter with no buckets (fresh instance or key prefix).
 */
export function describeRateLimiterContract(name: string, makeLimiter: () => Promise<RateLimiterFixture>): void {
  describe(`RateLimiter contract: ${name}`, () => {
    let fixture: RateLimiterFixture;
    let limiter: RateLimiter;

    beforeEach(async () => {
      fixture = await makeLimiter();
      limiter = fixture.limiter;
    });

    afterEach(async () => {
      await fixture.close();
    });

    it("answers ping", async () => {
      await limiter.ping();
    });

    it("lets a burst up to capacity through, then refuses with the wait until the next token", async () => {
      const limit: RateLimit = { capacity: 5, refillPerSecond: 1 };
      for (let i = 4; i >= 0; i--) {
        expect(await limiter.take("k", limit, 1, T)).toEqual({ allowed: true, remaining: i, retryAfterMs: 0, resetMs: (5 - i) * 1000 });
      }
      expect(await limiter.take("k", limit, 1, T)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 1000, resetMs: 5000 });
      expect(await limiter.take("k", limit, 1, T + 999)).toMatchObject({ allowed: false, retryAfterMs: 1 });
      expect(await limiter.take("k", limit, 1, T + 1000)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("refills continuously over time and never above capacity", async () => {
      const limit: RateLimit = { capacity: 10, refillPerSecond: 10 };
      expect(await limiter.take("k", limit, 10, T)).toMatchObject({ allowed: true, remaining: 0 });
      // Half a second refills half the bucket.
      expect(await limiter.take("k", limit, 6, T + 500)).toMatchObject({ allowed: false, remaining: 5, retryAfterMs: 100 });
      expect(await limiter.take("k", limit, 5, T + 500)).toMatchObject({ allowed: true, remaining: 0 });
      // An hour idle is a full bucket, not 36,000 tokens.
      expect(await limiter.take("k", limit, 1, T + 3_600_000)).toMatchObject({ allowed: true, remaining: 9, resetMs: 100 });
      expect(await limiter.take("k", limit, 10, T + 3_600_000)).toMatchObject({ allowed: false, remaining: 9 });
    });

    it("never takes part of a cost it cannot pay", async () => {
      const limit: RateLimit = { capacity: 10, refillPerSecond: 1 };
      expect(await limiter.take("k", limit, 7, T)).toMatchObject({ allowed: true, remaining: 3 });
      expect(await limiter.take("k", limit, 5, T)).toEqual({ allowed: false, remaining: 3, retryAfterMs: 2000, resetMs: 7000 });
      // The refused call took nothing: all 3 tokens are still there.
      expect(await limiter.take("k", limit, 3, T)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("always refuses a cost above capacity, even with a full bucket, and takes nothing", async () => {
      const limit: RateLimit = { capacity: 3, refillPerSecond: 1 };
      expect(await limiter.take("k", limit, 4, T)).toEqual({ allowed: false, remaining: 3, retryAfterMs: Number.POSITIVE_INFINITY, resetMs: 0 });
      expect(await limiter.take("k", limit, 4, T + 3_600_000)).toMatchObject({ allowed: false, retryAfterMs: Number.POSITIVE_INFINITY });
      expect(await limiter.take("k", limit, 3, T + 3_600_000)).toMatchObject({ allowed: true, remaining: 0 });
    });

    it("keeps every key's bucket apart", async () => {
      const limit: RateLimit = { capacity: 2, refillPerSecond: 1 };
      await limiter.take("customer:a", limit, 2, T);
      expect(await limiter.take("customer:a", limit, 1, T)).toMatchObject({ allowed: false });
      expect(await limiter.take("customer:b", limit, 1, T)).toMatchObject({ allowed: true, remaining: 1 });
      // Another limit on another key: each bucket follows its own.
      expect(await limiter.take("ip:10.0.0.1", { capacity: 100, refillPerSecond: 50 }, 1, T)).toMatchObject({ allowed: true, remaining: 99, resetMs: 20 });
    });

    it("reports remaining whole tokens and the time until full", async () => {
      const limit: RateLimit = { capacity: 10, refillPerSecond: 2 };
      // Taking nothing from an untouched bucket: full, nothing to wait for.
      expect(await limiter.take("k", limit, 0, T)).toEqual({ allowed: true, remaining: 10, retryAfterMs: 0, resetMs: 0 });
      expect(await limiter.take("k", limit, 1, T)).toEqual({ allowed: true, remaining: 9, retryAfterMs: 0, resetMs: 500 });
      // 250 ms later half a token is back: 9.5 tokens, 9 whole ones, 250 ms until full.
      expect(await limiter.take("k", limit, 0, T + 250)).toEqual({ allowed: true, remaining: 9, retryAfterMs: 0, resetMs: 250 });
      expect(await limiter.take("k", limit, 9, T + 250)).toEqual({ allowed: true, remaining: 0, retryAfterMs: 0, resetMs: 4750 });
      expect(await limiter.take("k", limit, 1, T + 250)).toEqual({ allowed: false, remaining: 0, retryAfterMs: 250, resetMs: 4750 });
      expect(await limiter.take("k", limit, 0, T + 5000)).toEqual({ allowed: true, remaining: 10, retryAfterMs: 0, resetMs: 0 });
    });

    it("answers a wait that is always enough and never more than needed, for awkward rates", async () => {
      const cases: [RateLimit, number][] = [
        [{ capacity: 10, refillPerSecond: 3 }, 1],
        [{ capacity: 7, refillPerSecond: 0.3 }, 2],
        [{ capacity: 100, refillPerSecond: 7.7 }, 33],
        [{ capacity: 2000, refillPerSecond: 1000 }, 999],
        [{ capacity: 5, refillPerSecond: 0.1 }, 0.7],
      ];
      for (const [n, [limit, cost]] of cases.entries()) {
        const key = `case:${n}`;
        let now = T;
        // Drain, then ask repeatedly: each wait, taken exactly, must be enough; one ms less must not be.
        while ((await limiter.take(key, limit, cost, now)).allowed);
        for (let round = 0; round < 5; round++) {
          const refused = await limiter.take(key, limit, cost, now);
          expect(refused.allowed).toBe(false);
          expect(refused.retryAfterMs).toBeGreaterThan(0);
          expect(await limiter.take(key, limit, cost, now + refused.retryAfterMs - 1)).toMatchObject({ allowed: false });
          now += refused.retryAfterMs;
          expect(await limiter.take(key, limit, cost, now)).toMatchObject({ allowed: true });
        }
      }
    });

    it("neither refills nor drains a bucket for a caller whose clock is behind", async () => {
      const limit: RateLimit = { capacity: 10, refillPerSecond: 1 };
      expect(await limiter.take("k", limit, 5, T + 1000)).toMatchObject({ allowed: true, remaining: 5 });
      // Another process, 1 s behind: it sees the same 5 tokens, not 4.
      expect(await limiter.take("k", limit, 1, T)).toMatchObject({ allowed: true, remaining: 4, resetMs: 7000 });
      expect(await limiter.take("k", limit, 5, T)).toMatchObject({ allowed: false, remaining: 4, retryAfterMs: 2000 });
      expect(await limiter.take("k", limit, 1, T + 2000)).toMatchObject({ allowed: true, remaining: 4 });
    });

    it("grants exactly capacity to many concurrent takes", async () => {
      const limit: RateLimit = { capacity: 20, refillPerSecond: 1 };
      const decisions = await Promise.all(Array.from({ length: 60 }, () => limiter.take("k", limit, 1, T)));
      expect(decisions.filter((d) => d.allowed).length).toBe(20);
      expect(
        decisions
          .filter((d) => d.allowed)
          .map((d) => d.remaining)
          .sort((a, b) => a - b),
      ).toEqual(Array.from({ length: 20 }, (_, i) => i));
    });

    it("rejects a negative cost and a limit that is not positive", async () => {
      await expect(limiter.take("k", { capacity: 5, refillPerSecond: 1 }, -1, T)).rejects.toThrow(RangeError);
      await expect(limiter.take("k", { capacity: 0, refillPerSecond: 1 }, 1, T)).rejects.toThrow(RangeError);
      await expect(limiter.take("k", { capacity: 5, refillPerSecond: 0 }, 1, T)).rejects.toThrow(RangeError);
      await expect(limiter.take("k", { capacity: 5, refillPerSecond: Number.NaN }, 1, T)).rejects.toThrow(RangeError);
      // Nothing was taken by the refused calls.
      expect(await limiter.take("k", { capacity: 5, refillPerSecond: 1 }, 5, T)).toMatchObject({ allowed: true });
    });
  });
}
