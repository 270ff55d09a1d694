/**
 * @module Sending deliveries: each in its webhook's lane, the slot freed as soon as the
 * answer is in, the outcome recorded in the background, slow endpoints' queues parked,
 * and a bounded drain on shutdown. One per process: the dispatcher and the retry manager share it,
 * so max_in_flight and max_in_flight_per_webhook hold for the process, whatever roles it runs.
 */
import type { Webhook } from "../../domain/model.ts";
import type { DeliveryWork } from "../../domain/ports.ts";
import type { Breakers } from "../health/breaker.ts";
import type { WebhookLimits } from "./admission.ts";
import { type AttemptDeps, type SentAttempt, sendAttempt } from "./attempt.ts";
import { Lanes, SWEEP_INTERVAL_MS } from "./lanes.ts";
import { Settling } from "./settling.ts";
import { type AttemptOutcome, judgeAttempt, settle } from "./transitions.ts";

/** A sweep this much later than planned means the event loop lags, ms. */
const LOOP_LAG_TOLERANCE_MS = 50;
/** How long sweeps must come on time before slow endpoints are parked again, ms. */
const LOOP_STEADY_MS = 500;

/** When a webhook last changed in a way that lets it be sent to again: edited (enabled), or resumed. */
const changedAt = (w: Webhook) => Math.max(Date.parse(w.updatedAt), w.resumedAt ?? 0);

export interface PoolOptions {
  maxInFlight: number;
  maxInFlightPerWebhook: number;
  /** A slow webhook's deliveries waiting longer than this are parked (see Lanes.isBehind). */
  maxQueueWaitMs: number;
  /** A webhook whose requests take at least this long is slow; a faster one is never parked. */
  slowEndpointMs: number;
  /** Counts each attempt's outcome for the webhook's circuit breaker; absent: no breaker. */
  breakers?: Breakers;
  /** Enforces webhooks' own `rate_limit` and `max_in_flight`; absent: none. */
  limits?: WebhookLimits;
}

export class DeliveryPool {
  private readonly lanes: Lanes;
  private readonly settling = new Settling();
  /** Runs only while the lanes hold work: a process at rest wakes for nothing. */
  private sweeper: Timer | undefined;
  private closing = false;
  private closed: Promise<boolean> | undefined;
  /**
   * Webhooks an answer here disabled (410 Gone) or paused (their breaker opened), with the time:
   * work for one read before then (the webhook as it was: neither changed nor resumed since) is not
   * sent but dropped, so held until the webhook is enabled or resumed; one changed since goes.
   */
  private readonly stoppedAt = new Map<string, number>();

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: PoolOptions,
  ) {
    this.lanes = new Lanes(options.maxInFlight, options.maxInFlightPerWebhook, () => this.loopSteady(performance.now()));
  }

  private lastSweep = performance.now();
  private loopSteadySince = performance.now();

  /**
   * Parks the queues of slow webhooks, but only while this process's event loop keeps time: when
   * the loop itself lags (a burst, a pause), every request looks slow, and parking a healthy
   * endpoint's work would only add work (the retry path) to a process already behind.
   */
  private sweep(): void {
    if (this.lanes.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
      return;
    }
    const now = performance.now();
    const late = now - this.lastSweep - SWEEP_INTERVAL_MS;
    this.lastSweep = now;
    if (late > LOOP_LAG_TOLERANCE_MS) this.loopSteadySince = now;
    if (this.loopSteady(now)) this.lanes.evictSlow(this.options.maxQueueWaitMs, this.options.slowEndpointMs);
  }

  /** True when the sweeps have come on time for LOOP_STEADY_MS: durations measured now are the endpoints', not ours. */
  private loopSteady(now: number): boolean {
    return now - this.loopSteadySince >= LOOP_STEADY_MS;
  }

  /** Deliveries queued, in flight, or being recorded. */
  get size(): number {
    return this.lanes.size + this.settling.size;
  }

  /** True when a delivery for this webhook should be parked instead of queued. */
  isBehind(webhookId: string): boolean {
    const now = performance.now();
    return this.loopSteady(now) && this.lanes.isBehind(webhookId, this.options.maxQueueWaitMs, this.options.slowEndpointMs, now);
  }

  estimatedWaitMs(webhookId: string): number {
    return this.lanes.estimatedWaitMs(webhookId);
  }

  /**
   * Sends one attempt. `onSettled` runs once its outcome is durable; `onDrop` runs instead
   * when it is parked or shut down before it started, or (with the time to try it again) when its
   * webhook's own limits turn it away. When the outcome cannot be recorded
   * neither runs: the delivery is tried again (event re-read, or lease expiry).
   */
  send(work: DeliveryWork, onSettled: (outcome: AttemptOutcome) => Promise<void> | void, onDrop: (retryAt?: number) => Promise<unknown>): void {
    const deps = this.deps;
    const unrecorded = (err: unknown) => deps.log.error({ err, deliveryId: work.delivery.id, eventId: work.event.id }, "could not record the outcome; the delivery will be tried again");
    if (!this.sweeper && !this.closed) {
      this.lastSweep = performance.now(); // the time at rest is not lateness
      this.sweeper = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    }
    this.lanes.run(
      work.webhook.id,
      async () => {
        const stoppedAt = this.stoppedAt.get(work.webhook.id);
        if (stoppedAt !== undefined) {
          if (changedAt(work.webhook) <= stoppedAt) return void (await onDrop());
          this.stoppedAt.delete(work.webhook.id); // enabled or resumed since
        }
        // The webhook's own rate and in-flight limits, over every process: over one, it comes back later.
        const admission = this.options.limits ? await this.options.limits.admit(work.webhook) : undefined;
        if (admission && "retryAt" in admission) return void (await onDrop(admission.retryAt));
        try {
          let sent: SentAttempt;
          try {
            sent = await sendAttempt(deps, work);
          } finally {
            admission?.release?.();
          }
          const settlement = judgeAttempt(deps, sent);
          // At once, not once written: the endpoint's next answers would fail too.
          if (settlement.disable || this.options.breakers?.count(work.webhook, settlement)) this.stopSending(work.webhook.id, settlement.record.attempt.createdAt);
          this.settling.add(
            settle(deps, settlement, () => this.closing)
              .then(onSettled)
              .catch(unrecorded),
          );
        } catch (err) {
          unrecorded(err);
        }
      },
      async () => {
        await onDrop();
      },
      work.webhook.customerId,
    );
  }

  /** A webhook disabled or paused: its queued work is dropped (held), and so is work read before `at` that comes later. */
  private stopSending(webhookId: string, at: number): void {
    this.stoppedAt.set(webhookId, at);
    void this.lanes.evictQueued(webhookId);
  }

  /**
   * Stops: queued deliveries are dropped (their `onDrop` runs), in-flight ones get up to
   * `timeoutMs`, outcomes already in are recorded. True when nothing was left in flight. Every
   * user of the pool calls it when it stops; the first call closes, later ones wait for it.
   */
  close(timeoutMs: number): Promise<boolean> {
    this.closed ??= this.closeNow(timeoutMs);
    return this.closed;
  }

  private async closeNow(timeoutMs: number): Promise<boolean> {
    clearInterval(this.sweeper);
    const drained = await this.lanes.drain(timeoutMs);
    this.closing = true; // from here a failing write gives up: its work is tried again after restart
    await this.settling.idle();
    return drained;
  }
}
