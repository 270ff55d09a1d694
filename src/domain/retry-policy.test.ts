/** @module Unit tests of the retry policy: backoff growth, jitter bounds, dead after the round, Retry-After. */
import { describe, expect, it } from "bun:test";
import { nextStep, nominalDelay, type RetryPolicy, retryDelay } from "./retry-policy.ts";

const policy: RetryPolicy = { maxRetries: 5, initialDelayMs: 1000, maxDelayMs: 300_000, multiplier: 2, jitter: 0.1 };
const noJitter: RetryPolicy = { ...policy, jitter: 0 };

describe("nominalDelay", () => {
  it("starts at initial_delay and multiplies on every retry", () => {
    expect([1, 2, 3, 4, 5].map((n) => nominalDelay(policy, n))).toEqual([1000, 2000, 4000, 8000, 16000]);
  });

  it("uses the multiplier given, not a fixed doubling", () => {
    const triple = { ...policy, multiplier: 3, initialDelayMs: 100 };
    expect([1, 2, 3].map((n) => nominalDelay(triple, n))).toEqual([100, 300, 900]);
  });

  it("never exceeds max_delay however many retries", () => {
    expect(nominalDelay(policy, 9)).toBe(256_000);
    expect(nominalDelay(policy, 10)).toBe(300_000);
    expect(nominalDelay(policy, 50)).toBe(300_000);
  });

  it("treats retry 0 like the first retry", () => {
    expect(nominalDelay(policy, 0)).toBe(1000);
  });
});

describe("retryDelay", () => {
  it("is the nominal delay exactly when jitter is 0", () => {
    expect(retryDelay(noJitter, 3, 0)).toBe(4000);
    expect(retryDelay(noJitter, 3, 0.999)).toBe(4000);
  });

  it("spreads over ±jitter: random 0 is the low bound, 0.5 the nominal, 0.999 just under the high bound", () => {
    expect(retryDelay(policy, 3, 0)).toBe(3600);
    expect(retryDelay(policy, 3, 0.5)).toBe(4000);
    expect(retryDelay(policy, 3, 0.999)).toBe(Math.round(4000 + 400 * 0.998));
    expect(retryDelay(policy, 3, 0.999)).toBeLessThan(4400);
  });

  it("stays inside the bounds for any random value", () => {
    for (let i = 0; i <= 100; i++) {
      const random = Math.min(i / 100, 0.9999);
      const delay = retryDelay(policy, 2, random);
      expect(delay).toBeGreaterThanOrEqual(1800);
      expect(delay).toBeLessThanOrEqual(2200);
    }
  });

  it("does not let jitter push a capped delay beyond max_delay", () => {
    expect(retryDelay(policy, 20, 0.999)).toBe(300_000);
    expect(retryDelay(policy, 20, 0)).toBe(270_000);
  });

  it("never goes negative with full jitter", () => {
    expect(retryDelay({ ...policy, jitter: 1 }, 1, 0)).toBe(0);
  });
});

describe("nextStep", () => {
  it("retries a failure with backoff and is dead after 1 + max_retries attempts in the round", () => {
    const steps = [1, 2, 3, 4, 5, 6].map((attempts) => nextStep(noJitter, attempts, null, 0.5));
    expect(steps).toEqual([
      { kind: "retry", delayMs: 1000 },
      { kind: "retry", delayMs: 2000 },
      { kind: "retry", delayMs: 4000 },
      { kind: "retry", delayMs: 8000 },
      { kind: "retry", delayMs: 16000 },
      { kind: "dead" },
    ]);
  });

  it("is dead after the first failure when max_retries is 0", () => {
    expect(nextStep({ ...noJitter, maxRetries: 0 }, 1, null)).toEqual({ kind: "dead" });
  });

  it("applies the injected random value to the backoff", () => {
    expect(nextStep(policy, 1, null, 0)).toEqual({ kind: "retry", delayMs: 900 });
  });

  it("honours a Retry-After longer than the backoff", () => {
    expect(nextStep(noJitter, 1, 30_000, 0.5)).toEqual({ kind: "retry", delayMs: 30_000 });
  });

  it("keeps the backoff when Retry-After is shorter", () => {
    expect(nextStep(noJitter, 3, 10, 0.5)).toEqual({ kind: "retry", delayMs: 4000 });
  });

  it("caps Retry-After at max_delay", () => {
    expect(nextStep(noJitter, 1, 3_600_000, 0.5)).toEqual({ kind: "retry", delayMs: 300_000 });
  });

  it("does not let Retry-After extend a round that is used up", () => {
    expect(nextStep(noJitter, 6, 1000, 0.5)).toEqual({ kind: "dead" });
  });
});
