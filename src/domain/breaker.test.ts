/** @module Unit tests of the circuit breaker's rules: when failures trip it, and how probes back off. */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { afterFailedProbe, type BreakerPolicy, FailureTracker, openPause } from "./breaker.ts";

const policy: BreakerPolicy = {
  consecutiveFailures: 5,
  failureRatio: 0.5,
  windowMs: 10_000,
  minAttempts: 10,
  probeIntervalMs: 1_000,
  maxProbeIntervalMs: 8_000,
  disableAfterMs: 60_000,
};

describe("FailureTracker", () => {
  it("trips on the Nth failure in a row, with the streak's first failure, and starts over", () => {
    const t = new FailureTracker({ ...policy, failureRatio: 0 });
    for (let i = 0; i < 4; i++) expect(t.failed("wh", 100 + i)).toBeUndefined();
    expect(t.failed("wh", 104)).toEqual({ failingSince: 100, failures: 5, why: "5 failed attempts in a row" });
    expect(t.failed("wh", 105)).toBeUndefined(); // counted again from nothing
  });

  it("a success ends the streak; other webhooks are counted apart", () => {
    const t = new FailureTracker({ ...policy, failureRatio: 0 });
    for (let i = 0; i < 4; i++) t.failed("wh", i);
    t.succeeded("wh", 5);
    for (let i = 0; i < 4; i++) expect(t.failed("wh", 10 + i)).toBeUndefined();
    for (let i = 0; i < 4; i++) expect(t.failed("other", 10 + i)).toBeUndefined();
    expect(t.failed("wh", 20)?.failingSince).toBe(10);
  });

  it("trips on a failure ratio over the window once it has its minimum of attempts, never within a window below it", () => {
    const t = new FailureTracker({ ...policy, consecutiveFailures: 0 });
    // Alternating: half fail; the tenth attempt is the fifth failure.
    let trip: ReturnType<FailureTracker["failed"]>;
    for (let i = 0; i < 10 && !trip; i++) {
      if (i % 2 === 1) t.succeeded("wh", i);
      else trip = t.failed("wh", i);
    }
    expect(trip).toBeUndefined(); // 9 attempts: below the minimum
    expect(t.failed("wh", 10)).toMatchObject({ why: "6 of 11 attempts failed within 10 s" });
    // A new window starts the counts over.
    const slow = new FailureTracker({ ...policy, consecutiveFailures: 0 });
    for (let i = 0; i < 9; i++) slow.failed("wh", i * 2_000); // 9 failures spread over 16 s: windows of at most 5
    expect(slow.failed("wh", 18_000)).toBeUndefined();
  });

  it("property: never trips without `consecutiveFailures` in a row or a window holding the ratio over its minimum", () => {
    fc.assert(
      fc.property(fc.array(fc.record({ ok: fc.boolean(), gap: fc.integer({ min: 0, max: 3_000 }) }), { maxLength: 200 }), (outcomes) => {
        const t = new FailureTracker(policy);
        let now = 0;
        let streak = 0;
        let window: boolean[] = [];
        let windowStart = 0;
        let tracked = false; // the tracker keeps no window until a failure
        for (const { ok, gap } of outcomes) {
          now += gap;
          if (tracked && now - windowStart >= policy.windowMs) {
            windowStart = now;
            window = [];
          }
          if (ok) {
            if (tracked) window.push(true);
            streak = 0;
            if (tracked && window.every((x) => x)) tracked = false;
            t.succeeded("wh", now);
            continue;
          }
          if (!tracked) {
            tracked = true;
            windowStart = now;
            window = [];
          }
          streak++;
          window.push(false);
          const failures = window.filter((x) => !x).length;
          const expected = streak >= policy.consecutiveFailures || (window.length >= policy.minAttempts && failures / window.length >= policy.failureRatio);
          const trip = t.failed("wh", now);
          expect(trip !== undefined).toBe(expected);
          if (trip) {
            streak = 0;
            tracked = false;
          }
        }
      }),
    );
  });
});

describe("probes", () => {
  it("the first probe one interval after the trip; each failed one doubles the wait up to the maximum; failing long enough disables", () => {
    let pause = openPause(policy, { failingSince: 500, failures: 5, why: "" }, 1_000);
    expect(pause).toEqual({ since: 1_000, failingSince: 500, failures: 5, probeAt: 2_000, probeIntervalMs: 1_000 });
    const waits: number[] = [];
    let now = pause.probeAt;
    for (;;) {
      const next = afterFailedProbe(policy, pause, now);
      if (next.disable) break;
      waits.push(next.pause.probeAt - now);
      expect(next.pause.failures).toBe(pause.failures + 1);
      pause = next.pause;
      now = pause.probeAt;
    }
    expect(waits.slice(0, 5)).toEqual([2_000, 4_000, 8_000, 8_000, 8_000]);
    expect(now - 500).toBeGreaterThanOrEqual(policy.disableAfterMs);
    expect(now - 500 - waits.at(-1)!).toBeLessThan(policy.disableAfterMs); // not one probe later than needed
  });
});
