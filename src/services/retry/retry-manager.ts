/**
 * @module The retry manager: claims due retries with a lease, tries each again, and
 * completes it only once the outcome is durable; sweeps for unfinished deliveries that never
 * made it onto the schedule (see delivery/transitions.ts).
 */
import type { DeliveryWork, ScheduledRetry } from "../../domain/ports.ts";
import type { AttemptDeps } from "../delivery/attempt.ts";
import type { DeliveryPool } from "../delivery/pool.ts";
import type { Sequencer } from "../delivery/sequencer.ts";
import { scheduleOverdue } from "../delivery/transitions.ts";

/** With the pool full, how soon the retry loop looks again for room, ms. */
const FULL_POOL_RECHECK_MS = 20;
/**
 * With nothing due, the loop sleeps until the earliest item comes due, but at most this many poll
 * intervals (1 s by default): a process at rest claims once a second instead of four times (0.28% of
 * a core measured on Redis). An item scheduled meanwhile to come due sooner than that (a manual
 * retry) waits out the rest of the sleep; one due later is claimed on time.
 */
const IDLE_POLLS = 4;
/** Deliveries the sweep puts back on the schedule at most per run. */
const SWEEP_BATCH = 500;

export interface RetryManagerOptions {
  pollIntervalMs: number;
  batchSize: number;
  leaseMs: number;
  /** The pool holds this many deliveries at most before the loop waits for room (max_in_flight × 2). */
  maxPooled: number;
  /** How often the sweep for unscheduled unfinished deliveries runs, ms. */
  sweepIntervalMs: number;
  shutdownTimeoutMs: number;
}

export interface RetryManagerDeps extends AttemptDeps {
  /** The process's one pool, shared with the dispatcher. */
  pool: DeliveryPool;
  /** Gives the next delivery of an ordered webhook's key its turn once one finishes (delivery/sequencer.ts). */
  sequencer?: Pick<Sequencer, "advance">;
}

export class RetryManager {
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  /** Something came due at once while the loop was not asleep (claimNow): its next sleep is skipped. */
  private claimAgain = false;
  private sweeper: Timer | undefined;
  private sweeping: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly deps: RetryManagerDeps,
    private readonly options: RetryManagerOptions,
  ) {}

  private get pool(): DeliveryPool {
    return this.deps.pool;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
    this.sweeper = setInterval(() => (this.sweeping = this.sweep()), this.options.sweepIntervalMs);
  }

  /** Puts back on the schedule what was stored unfinished and then never scheduled (a lease overdue: nobody holds it). */
  private async sweep(): Promise<void> {
    try {
      const found = await scheduleOverdue(this.deps, this.deps.clock.now(), this.options.leaseMs, SWEEP_BATCH);
      if (found > 0) this.deps.log.debug({ found }, "overdue unfinished deliveries made sure of on the schedule");
    } catch (err) {
      this.deps.log.warn({ err }, "sweep for unscheduled deliveries failed; trying again next interval");
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed: ScheduledRetry[] = [];
      let limit = 0;
      try {
        const room = this.options.maxPooled - this.pool.size;
        limit = Math.min(room, this.options.batchSize);
        if (limit > 0) claimed = await this.deps.schedule.claim(this.deps.clock.now(), limit, this.options.leaseMs);
        if (claimed.length > 0) {
          const work = await this.deps.store.deliveryWork(claimed.map((c) => c.deliveryId));
          const byId = new Map(work.map((w) => [w.delivery.id, w]));
          for (const item of claimed) await this.retry(item, byId.get(item.deliveryId));
        }
      } catch (err) {
        this.deps.log.error({ err }, "retry loop failed; trying again");
      }
      if (!this.running) break;
      // Full pool: look again as soon as sends finish. Fewer due than asked for: the schedule is
      // drained, wait for the next poll. A full claim: more may be due at once.
      if (limit <= 0) await this.sleep(FULL_POOL_RECHECK_MS);
      else if (claimed.length === 0) await this.sleep(await this.idleWaitMs());
      else if (claimed.length < limit) await this.sleep(this.options.pollIntervalMs);
    }
  }

  /** Nothing was due: until the earliest item is, between one and IDLE_POLLS poll intervals. */
  private async idleWaitMs(): Promise<number> {
    const poll = this.options.pollIntervalMs;
    try {
      const next = await this.deps.schedule.nextDue();
      const untilDue = next === null ? Number.POSITIVE_INFINITY : next - this.deps.clock.now();
      return Math.min(Math.max(untilDue, poll), IDLE_POLLS * poll);
    } catch {
      return poll; // the claim's own failure is logged on the next turn
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.claimAgain) {
      this.claimAgain = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  private async retry(item: ScheduledRetry, work: DeliveryWork | undefined): Promise<void> {
    const deps = this.deps;
    const finished = !work || work.delivery.status === "succeeded" || work.delivery.status === "dead";
    if (finished || work.webhook.status !== "active" || work.webhook.pause) {
      // Deleted, already done, or its webhook is disabled: nothing to send (a manual retry can requeue
      // it; enabled again, the sweep schedules it). Paused: held; the breaker's close schedules it.
      await deps.schedule.complete([item.deliveryId]);
      return;
    }
    const webhookId = work.webhook.id;
    // Given back (endpoint far behind, or shutting down before it started): due again once the
    // endpoint's queue should have drained, so nobody waits out the lease; turned away by the
    // webhook's own limits: due when it may go.
    const giveBack = (retryAt?: number) =>
      deps.schedule
        .schedule([{ deliveryId: item.deliveryId, dueAt: retryAt ?? Math.max(item.dueAt, deps.clock.now() + this.pool.estimatedWaitMs(webhookId)) }])
        .catch((err) => deps.log.warn({ err, deliveryId: item.deliveryId }, "claim not given back; lease will expire"));
    if (this.pool.isBehind(webhookId)) {
      await giveBack();
      return;
    }
    this.pool.send(
      work,
      async (outcome) => {
        if (outcome === "retry") return;
        await deps.schedule.complete([item.deliveryId]);
        if (work.delivery.fifoKey !== null) deps.sequencer?.advance(work.webhook);
      },
      giveBack,
    );
  }

  /** Claims now instead of at the next poll: something was scheduled to come due at once. */
  claimNow(): void {
    this.wake?.();
    this.claimAgain = true; // if it was not asleep: the claim in progress may have missed it
  }

  /** Stops claiming and sweeping, and waits for the claim in progress to be handed to the pool. */
  async halt(): Promise<void> {
    this.running = false;
    clearInterval(this.sweeper);
    this.wake?.();
    await this.loop;
    await this.sweeping;
  }

  /** Halts, then waits up to the shutdown timeout for in-flight requests (the shared pool's close). */
  async stop(): Promise<void> {
    if (!this.loop) return;
    await this.halt();
    const drained = await this.pool.close(this.options.shutdownTimeoutMs);
    if (!drained) this.deps.log.warn({ inFlight: this.pool.size }, "shutdown timeout: claimed retries reappear when their lease ends");
  }
}
