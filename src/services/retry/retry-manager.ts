/**
 * @module The retry manager: claims due retries with a lease, tries each again, and
 * completes it only once the outcome is durable.
 */
import type { ScheduledRetry } from "../../domain/ports.ts";
import type { AttemptDeps } from "../delivery/attempt.ts";
import { DeliveryPool } from "../delivery/pool.ts";

/** With the pool full, how soon the retry loop looks again for room, ms. */
const FULL_POOL_RECHECK_MS = 20;

export interface RetryManagerOptions {
  pollIntervalMs: number;
  batchSize: number;
  leaseMs: number;
  maxInFlight: number;
  maxInFlightPerWebhook: number;
  maxQueueWaitMs: number;
  slowEndpointMs: number;
  shutdownTimeoutMs: number;
}

export class RetryManager {
  private readonly pool: DeliveryPool;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly deps: AttemptDeps,
    private readonly options: RetryManagerOptions,
  ) {
    this.pool = new DeliveryPool(deps, options);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: ScheduledRetry[] = [];
      let limit = 0;
      try {
        const room = this.options.maxInFlight * 2 - this.pool.size;
        limit = Math.min(room, this.options.batchSize);
        if (limit > 0) claimed = await this.deps.schedule.claim(this.deps.clock.now(), limit, this.options.leaseMs);
        for (const item of claimed) await this.retry(item);
      } catch (err) {
        this.deps.log.error({ err }, "retry loop failed; trying again");
      }
      if (!this.running) break;
      // Full pool: look again as soon as sends finish. Fewer due than asked for: the schedule is
      // drained, wait for the next poll. A full claim: more may be due at once.
      if (limit <= 0) await this.sleep(FULL_POOL_RECHECK_MS);
      else if (claimed.length < limit) await this.sleep(this.options.pollIntervalMs);
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async retry(item: ScheduledRetry): Promise<void> {
    const deps = this.deps;
    const work = await deps.store.deliveryWork(item.deliveryId);
    const finished = !work || work.delivery.status === "succeeded" || work.delivery.status === "dead";
    if (finished || work.webhook.status !== "active") {
      // Deleted, already done, or its webhook is disabled: nothing to send (a manual retry can requeue it).
      await deps.schedule.complete([item.deliveryId]);
      return;
    }
    const webhookId = work.webhook.id;
    // Given back (endpoint far behind, or shutting down before it started): due again once the
    // endpoint's queue should have drained, so nobody waits out the lease.
    const giveBack = () =>
      deps.schedule
        .schedule([{ deliveryId: item.deliveryId, dueAt: Math.max(item.dueAt, deps.clock.now() + this.pool.estimatedWaitMs(webhookId)) }])
        .catch((err) => deps.log.warn({ err, deliveryId: item.deliveryId }, "claim not given back; lease will expire"));
    if (this.pool.isBehind(webhookId)) {
      await giveBack();
      return;
    }
    this.pool.send(
      work,
      async (outcome) => {
        if (outcome !== "retry") await deps.schedule.complete([item.deliveryId]);
      },
      giveBack,
    );
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loop;
    const drained = await this.pool.close(this.options.shutdownTimeoutMs);
    if (!drained) this.deps.log.warn({ inFlight: this.pool.size }, "shutdown timeout: claimed retries reappear when their lease ends");
  }
}
