/** @module When to try a failed delivery again, and when to give up. */

export interface RetryPolicy {
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  multiplier: number;
  /** 0..1: the delay is spread uniformly over ±jitter of its nominal value. */
  jitter: number;
}

/** Nominal delay before retry number `retry` (1 = first retry), before jitter. */
export function nominalDelay(policy: RetryPolicy, retry: number): number {
  const delay = policy.initialDelayMs * policy.multiplier ** Math.max(0, retry - 1);
  return Math.min(policy.maxDelayMs, delay);
}

/** The delay with jitter applied; `random` in [0,1) is injected so tests are exact. */
export function retryDelay(policy: RetryPolicy, retry: number, random: number = Math.random()): number {
  const nominal = nominalDelay(policy, retry);
  const spread = nominal * policy.jitter * (2 * random - 1);
  return Math.max(0, Math.min(policy.maxDelayMs, Math.round(nominal + spread)));
}

export type NextStep = { kind: "retry"; delayMs: number } | { kind: "dead" };

/**
 * After a failed attempt: `attemptsThisRound` counts attempts since the round began (the
 * first try and each retry). A round allows 1 + maxRetries attempts. An endpoint's
 * Retry-After is honoured when longer than the backoff, but never beyond max_delay.
 */
export function nextStep(policy: RetryPolicy, attemptsThisRound: number, retryAfterMs: number | null, random?: number): NextStep {
  if (attemptsThisRound > policy.maxRetries) return { kind: "dead" };
  const backoff = retryDelay(policy, attemptsThisRound, random);
  const delayMs = retryAfterMs === null ? backoff : Math.min(policy.maxDelayMs, Math.max(backoff, retryAfterMs));
  return { kind: "retry", delayMs };
}
