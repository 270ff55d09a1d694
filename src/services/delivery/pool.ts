/**
 * @module Sending deliveries: each in its webhook's lane, the slot freed as soon as the
 * answer is in, the outcome recorded in the background, slow endpoints' queues parked,
 * and a bounded drain on shutdown. The dispatcher and the retry manager both send here.
 */
import type { DeliveryWork } from "../../domain/ports.ts";
import { type AttemptDeps, type AttemptOutcome, sendAttempt, settleAttempt } from "./attempt.ts";
import { Lanes, SWEEP_INTERVAL_MS } from "./lanes.ts";
import { Settling } from "./settling.ts";
import { persist } from "../../platform/persist.ts";

export interface PoolOptions {
  maxInFlight: number;
  maxInFlightPerWebhook: number;
  /** A slow webhook's deliveries waiting longer than this are parked (see Lanes.isBehind). */
  maxQueueWaitMs: number;
}

export class DeliveryPool {
  private readonly lanes: Lanes;
  private readonly settling = new Settling();
  private readonly sweeper: Timer;
  private closing = false;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: PoolOptions,
  ) {
    this.lanes = new Lanes(options.maxInFlight, options.maxInFlightPerWebhook);
    this.sweeper = setInterval(() => this.lanes.evictSlow(options.maxQueueWaitMs), SWEEP_INTERVAL_MS);
  }

  /** Deliveries queued, in flight, or being recorded. */
  get size(): number {
    return this.lanes.size + this.settling.size;
  }

  /** True when a delivery for this webhook should be parked instead of queued. */
  isBehind(webhookId: string): boolean {
    return this.lanes.isBehind(webhookId, this.options.maxQueueWaitMs);
  }

  estimatedWaitMs(webhookId: string): number {
    return this.lanes.estimatedWaitMs(webhookId);
  }

  /**
   * Sends one attempt. `onSettled` runs once its outcome is durable; `onDrop` runs instead
   * when it is parked or shut down before it started. When the outcome cannot be recorded
   * neither runs: the delivery is tried again (event re-read, or lease expiry).
   */
  send(work: DeliveryWork, onSettled: (outcome: AttemptOutcome) => Promise<void> | void, onDrop: () => Promise<unknown>): void {
    const deps = this.deps;
    const unrecorded = (err: unknown) =>
      deps.log.error({ err, deliveryId: work.delivery.id, eventId: work.event.id }, "could not record the outcome; the delivery will be tried again");
    this.lanes.run(
      work.webhook.id,
      async () => {
        try {
          const sent = await sendAttempt(deps, work);
          const settle = () => settleAttempt(deps, sent).then(onSettled);
          this.settling.add(persist(settle, () => this.closing, deps.log, "recording an attempt").catch(unrecorded));
        } catch (err) {
          unrecorded(err);
        }
      },
      async () => {
        await onDrop();
      },
    );
  }

  /**
   * Stops: queued deliveries are dropped (their `onDrop` runs), in-flight ones get up to
   * `timeoutMs`, outcomes already in are recorded. True when nothing was left in flight.
   */
  async close(timeoutMs: number): Promise<boolean> {
    clearInterval(this.sweeper);
    const drained = await this.lanes.drain(timeoutMs);
    this.closing = true; // from here a failing write gives up: its work is tried again after restart
    await this.settling.idle();
    return drained;
  }
}
