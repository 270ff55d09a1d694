/**
 * @module Circuit breaking per webhook, its rules without I/O: when a webhook's failures open its
 * breaker (pause it), how long to wait between probes, and when it has failed long enough to be
 * disabled.
 *
 * Each delivering process counts the outcomes it sees itself (no shared counter on the healthy
 * path: one map update per attempt); the first process whose counts cross a threshold pauses the
 * webhook in the store, which every process then reads. With several dispatchers each sees its
 * share of one endpoint's attempts: an endpoint that is down fails them all, and each count
 * crosses its threshold as it would alone.
 */
import type { Pause } from "./model.ts";

export interface BreakerPolicy {
  /** Failures in a row that open the breaker; 0: never by count. */
  consecutiveFailures: number;
  /** Share of failed attempts (0..1) over `windowMs` that opens the breaker; 0: never by ratio. */
  failureRatio: number;
  windowMs: number;
  /** Attempts in a window before its ratio counts (a handful of failures is not a ratio). */
  minAttempts: number;
  /** The first wait between probes, ms; it doubles after each failed probe, up to `maxProbeIntervalMs`. */
  probeIntervalMs: number;
  maxProbeIntervalMs: number;
  /** Failing this long (from the first failure of the streak) disables the webhook, ms. */
  disableAfterMs: number;
}

interface Counts {
  /** Failures in a row. */
  streak: number;
  /** The first failure of the streak, ms. */
  streakSince: number;
  windowStart: number;
  attempts: number;
  failures: number;
}

/** The pause a tracker decided on: the breaker opens with it. */
export type Trip = Pick<Pause, "failingSince" | "failures"> & { why: string };

/** One process's count of each webhook's outcomes. */
export class FailureTracker {
  private readonly counts = new Map<string, Counts>();

  constructor(private readonly policy: BreakerPolicy) {}

  /** A success: the streak ends (the window keeps counting). */
  succeeded(webhookId: string, now: number): void {
    const c = this.counts.get(webhookId);
    if (!c) return; // a webhook not failing here keeps no entry: its window starts at its first failure
    this.roll(c, now);
    c.attempts++;
    c.streak = 0;
    if (c.failures === 0) this.counts.delete(webhookId);
  }

  /** A failure: returns the trip when it opens the breaker (and starts the counts over), else undefined. */
  failed(webhookId: string, now: number): Trip | undefined {
    let c = this.counts.get(webhookId);
    if (!c) {
      c = { streak: 0, streakSince: now, windowStart: now, attempts: 0, failures: 0 };
      this.counts.set(webhookId, c);
    }
    this.roll(c, now);
    if (c.streak === 0) c.streakSince = now;
    c.streak++;
    c.attempts++;
    c.failures++;
    const p = this.policy;
    let why: string | undefined;
    if (p.consecutiveFailures > 0 && c.streak >= p.consecutiveFailures) why = `${c.streak} failed attempts in a row`;
    else if (p.failureRatio > 0 && c.attempts >= p.minAttempts && c.failures / c.attempts >= p.failureRatio)
      why = `${c.failures} of ${c.attempts} attempts failed within ${Math.round(p.windowMs / 1000)} s`;
    if (!why) return undefined;
    this.counts.delete(webhookId);
    return { failingSince: c.streak > 0 ? c.streakSince : now, failures: c.streak, why };
  }

  /** Forgets a webhook (its breaker opened elsewhere, or it closed): counting starts over. */
  forget(webhookId: string): void {
    this.counts.delete(webhookId);
  }

  private roll(c: Counts, now: number): void {
    if (now - c.windowStart < this.policy.windowMs) return;
    c.windowStart = now;
    c.attempts = 0;
    c.failures = 0;
  }
}

/** The pause a trip opens: the first probe one probe interval later. */
export function openPause(policy: BreakerPolicy, trip: Trip, now: number): Pause {
  return { since: now, failingSince: trip.failingSince, failures: trip.failures, probeAt: now + policy.probeIntervalMs, probeIntervalMs: policy.probeIntervalMs };
}

/**
 * After a failed probe: the next one after twice the wait (at most the maximum), or `disable` when
 * the webhook has been failing for `disableAfterMs`.
 */
export function afterFailedProbe(policy: BreakerPolicy, pause: Pause, now: number): { disable: true } | { disable: false; pause: Pause } {
  if (now - pause.failingSince >= policy.disableAfterMs) return { disable: true };
  const probeIntervalMs = Math.min(pause.probeIntervalMs * 2, policy.maxProbeIntervalMs);
  return { disable: false, pause: { ...pause, failures: pause.failures + 1, probeAt: now + probeIntervalMs, probeIntervalMs } };
}
