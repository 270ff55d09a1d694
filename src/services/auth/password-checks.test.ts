import { describe, expect, it } from "bun:test";
import { UnavailableError } from "../../domain/errors.ts";
import { PasswordChecks } from "./password-checks.ts";

/** A verify that finishes when the test says so, counting how many run at once. */
function gatedVerify() {
  const open: (() => void)[] = [];
  let running = 0;
  let peak = 0;
  const verify = async (password: string) => {
    running++;
    peak = Math.max(peak, running);
    await new Promise<void>((resolve) => open.push(resolve));
    running--;
    return password === "right";
  };
  return {
    verify,
    /** Lets the oldest running verification finish. */
    finishOne: async () => {
      open.shift()!();
      await Bun.sleep(0);
    },
    get running() {
      return running;
    },
    get peak() {
      return peak;
    },
  };
}

describe("PasswordChecks", () => {
  it("runs at most maxConcurrent verifications at once, lets maxWaiting wait in order, and refuses the rest with 503 at once", async () => {
    const gate = gatedVerify();
    const checks = new PasswordChecks({ maxConcurrent: 2, maxWaiting: 3, refusalDelayMs: 0 }, gate.verify);
    const order: number[] = [];
    const calls = Array.from({ length: 8 }, (_, i) =>
      checks.verify(i === 4 ? "right" : "wrong", "hash").then(
        (ok) => (order.push(i), ok),
        (err) => err,
      ),
    );
    await Bun.sleep(0);
    expect(gate.running).toBe(2);
    expect(checks.stats()).toMatchObject({ running: 2, waiting: 3, refused: 3 });
    // The three beyond 2 running and 3 waiting were answered at once, without verifying.
    const refused = await Promise.all(calls.slice(5));
    for (const err of refused) {
      expect(err).toBeInstanceOf(UnavailableError);
      expect(err).toMatchObject({ status: 503, code: "unavailable", retryAfterSeconds: 1, message: "too many password checks at once; retry in 1 s" });
    }
    for (let i = 0; i < 5; i++) await gate.finishOne();
    expect(await Promise.all(calls.slice(0, 5))).toEqual([false, false, false, false, true]);
    // First come, first served; never more than two at once.
    expect(order).toEqual([0, 1, 2, 3, 4]);
    expect(gate.peak).toBe(2);
    expect(checks.stats()).toMatchObject({ running: 0, waiting: 0, peakRunning: 2, refused: 3 });
    // Free again: the next one runs at once.
    const next = checks.verify("right", "hash");
    await Bun.sleep(0);
    expect(gate.running).toBe(1);
    await gate.finishOne();
    expect(await next).toBe(true);
  });

  it("gives the slot back when a verification throws", async () => {
    const checks = new PasswordChecks({ maxConcurrent: 1, maxWaiting: 0, refusalDelayMs: 0 }, async () => {
      throw new Error("bad hash");
    });
    await expect(checks.verify("x", "not-a-hash")).rejects.toThrow("bad hash");
    await expect(checks.verify("x", "not-a-hash")).rejects.toThrow("bad hash");
    expect(checks.stats()).toMatchObject({ running: 0, waiting: 0, refused: 0 });
  });

  it("holds a refusal's answer for the refusal delay, at most maxHeld at once", async () => {
    const checks = new PasswordChecks({ maxConcurrent: 1, maxWaiting: 0, refusalDelayMs: 200, maxHeld: 2 }, async () => false);
    const refusal = new Error("refused");
    const started = performance.now();
    const held = [checks.refuse(refusal), checks.refuse(refusal)].map((p) => p.catch((err) => [err, performance.now() - started]));
    expect(checks.stats().held).toBe(2);
    // A third is past maxHeld: answered at once.
    const [third, thirdMs] = await checks.refuse(refusal).catch((err) => [err, performance.now() - started]);
    expect(third).toBe(refusal);
    expect(thirdMs).toBeLessThan(100);
    for (const [err, ms] of await Promise.all(held)) {
      expect(err).toBe(refusal);
      expect(ms).toBeGreaterThanOrEqual(195);
    }
    expect(checks.stats().held).toBe(0);
  });

  it("refuses a cap below 1 or a negative queue", () => {
    expect(() => new PasswordChecks({ maxConcurrent: 0, maxWaiting: 1 })).toThrow(RangeError);
    expect(() => new PasswordChecks({ maxConcurrent: 1, maxWaiting: -1 })).toThrow(RangeError);
  });

  it("verifies real Argon2 hashes by default", async () => {
    const checks = new PasswordChecks({ maxConcurrent: 1, maxWaiting: 1 });
    const hash = await Bun.password.hash("right");
    expect(await checks.verify("right", hash)).toBe(true);
    expect(await checks.verify("wrong", hash)).toBe(false);
  });
});
