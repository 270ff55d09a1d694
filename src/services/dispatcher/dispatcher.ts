/**
 * @module The dispatcher: reads the event log, fans each event out to its webhooks, and
 * acks an event only when every delivery of it is done or durably scheduled for retry.
 * Memory is bounded by deliveries, not events: an event whose deliveries would cross the
 * process's budget, or its customer's, is parked in the store (retry schedule) instead, so one
 * customer's fan-out burst waits there while the others' events still go at once.
 */
import { type Delivery, freshDelivery, type Webhook } from "../../domain/model.ts";
import type { EventConsumer, EventLog, LoggedEvent } from "../../domain/ports.ts";
import { retryUntilStopped } from "../../platform/retry-until-stopped.ts";
import type { AttemptDeps } from "../delivery/attempt.ts";
import type { DeliveryPool } from "../delivery/pool.ts";
import { hold, type Parked, parkAll, rescheduleStored } from "../delivery/transitions.ts";
import { Subscriptions } from "../webhooks/subscriptions.ts";

/** Events parked in one store write at most. */
const PARK_BATCH = 500;
/**
 * A webhook holding less than this share of its customer's budget in memory is light (see `admits`).
 * Not a small count: a busy moment (a burst being parked) delays every send a little, and a light
 * webhook briefly holding a few dozen must not be parked behind the heavy one's backlog.
 */
const LIGHT_SHARE = 8;
/** Deliveries a customer over its budget may still hold for its light webhooks. */
const LIGHT_SLACK = 1000;

export interface DispatcherOptions {
  group: string;
  readBatch: number;
  maxPendingEvents: number;
  /**
   * Events read ahead to be parked (their customer over budget, or their webhooks far behind) at
   * most, besides `maxPendingEvents`: they leave memory in batches of PARK_BATCH a store write, so
   * the events behind a burst for one slow webhook are reached in the time it takes to read it, not
   * to deliver it.
   */
  maxParkingEvents: number;
  /** Payload bytes of the events held (read and not finished) at most before reading waits; the events' count alone lets 256 KiB events fill the heap. */
  maxPendingBytes: number;
  /** Deliveries held in memory (queued or in flight) at most, over every customer. */
  maxPendingDeliveries: number;
  /** Deliveries of one customer held in memory at most. */
  maxPendingDeliveriesPerCustomer: number;
  /** Parked deliveries of one customer come due at most this many a second (0: all at once). */
  parkedPerSecondPerCustomer: number;
  pollIntervalMs: number;
  subscriptionRefreshMs: number;
  shutdownTimeoutMs: number;
}

export interface DispatcherDeps extends AttemptDeps {
  eventLog: EventLog;
  /** The process's one pool, shared with the retry manager. */
  pool: DeliveryPool;
}

export class Dispatcher {
  private readonly subscriptions: Subscriptions;
  private consumer: EventConsumer | undefined;
  private running = false;
  private loop: Promise<void> | undefined;
  /** Events read and held for delivery in memory; and read and waiting to be parked. */
  private pendingEvents = 0;
  private parkingEvents = 0;
  private pendingBytes = 0;
  private pendingDeliveries = 0;
  private readonly pendingByCustomer = new Map<string, number>();
  /**
   * Over-budget events waiting to be parked, and the drain writing them: up to PARK_BATCH events a
   * write, one write at a time (their store writes must not crowd out the rest). One event a write
   * took 20,000 events of one webhook minutes to park on SQLite, while every other customer's events
   * behind them in the log waited for room to be read (fairness.test.ts).
   */
  private readonly parkQueue: { item: Parked; done: (parked: boolean) => void }[] = [];
  private parking: Promise<void> | undefined;
  /** Deliveries held in memory per webhook: a light webhook's events still come in when its customer is over budget. */
  private readonly pendingByWebhook = new Map<string, number>();
  /** When each customer's parked backlog comes due to its end (see `parkEvent`). */
  private readonly parkedUntil = new Map<string, number>();
  private capacityWaiter: (() => void) | undefined;
  /**
   * The events being delivered now, by customer and id, with the copies of each read meanwhile.
   * The outbox sends an event to the log again when its "sent" mark was lost (PostgreSQL away just
   * after the broker took it, or a kill -9): both copies reach this reader, often in one read, and
   * the second, looked up before the first's outcome is stored, found nothing and went out again
   * (the no-loss property: 9 repeats after two PostgreSQL restarts). A copy read while its event
   * is under way is finished with it instead: the same partition (the key is the customer and
   * type), so the same reader, always has both.
   */
  private readonly underWay = new Map<string, { event: LoggedEvent; copies: LoggedEvent[] }>();

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly options: DispatcherOptions,
  ) {
    this.subscriptions = new Subscriptions(deps.store, options.subscriptionRefreshMs);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.consumer = this.deps.eventLog.consumer(this.options.group);
    this.loop = this.run();
  }

  /** Events appended and not yet finished, for the lag gauge. */
  lag(): Promise<number> {
    return this.consumer?.lag() ?? Promise.resolve(0);
  }

  /** Partitions of the log this dispatcher owns now. */
  assignedPartitions(): number {
    return this.consumer?.assignedPartitions() ?? 0;
  }

  private async run(): Promise<void> {
    const consumer = this.consumer!;
    while (this.running) {
      try {
        const room = this.options.maxPendingEvents - this.pendingEvents;
        if (room <= 0 || this.parkingEvents >= this.options.maxParkingEvents || this.pendingBytes >= this.options.maxPendingBytes) {
          await new Promise<void>((resolve) => (this.capacityWaiter = resolve));
          continue;
        }
        const events = await consumer.poll(Math.min(room, this.options.readBatch), this.options.pollIntervalMs);
        // Events read must be dispatched: skipping them would hold the committed position until a restart.
        if (events.length > 0)
          await retryUntilStopped(
            () => this.dispatch(consumer, events),
            () => !this.running,
            this.deps.log,
            "dispatching events",
          );
      } catch (err) {
        this.deps.log.error({ err }, "dispatch loop failed; retrying");
        await Bun.sleep(this.options.pollIntervalMs);
      }
    }
  }

  private async dispatch(consumer: EventConsumer, events: LoggedEvent[]): Promise<void> {
    const newest = events.reduce((max, e) => Math.max(max, e.acceptedAt), 0);
    const index = await this.subscriptions.current(this.deps.clock.now(), newest);
    const matched = events.filter((event) => !this.isCopyUnderWay(event)).map((event) => ({ event, webhooks: index.recipients(event) }));
    // A customer already over its budget, or webhooks all far behind: straight to the parking queue,
    // without the stored-delivery check (parking is idempotent: what is stored stays as it is), so a
    // burst costs the read loop nothing and the events behind it are reached at once.
    const fanOuts = matched.filter((f) => {
      if (f.webhooks.length === 0 || !this.parks(f.event.customerId, f.webhooks)) return true;
      this.parkEvent(consumer, f.event, f.webhooks);
      return false;
    });
    // A delivery is stored by its first outcome (or when parked): only a re-read event has some
    // already, and those are the retry manager's (back on its schedule), not sent from here.
    // An event the log knows is read for the first time has none: no look-up.
    const withTargets = fanOuts.filter((f) => f.webhooks.length > 0 && !f.event.firstRead);
    const stored = await rescheduleStored(this.deps, withTargets);
    const byEvent = new Map(withTargets.map((f, i) => [f.event, stored[i]!]));
    const now = this.deps.clock.now();
    for (const { event, webhooks } of fanOuts) {
      const before = new Set((byEvent.get(event) ?? []).map((d) => d.webhookId));
      const todo = webhooks.filter((w) => !before.has(w.id)).map((w) => freshDelivery(event, w.id, now));
      if (todo.length === 0) {
        this.doneWith(consumer, event);
        continue;
      }
      const webhookById = new Map(webhooks.map((w) => [w.id, w]));
      const targets = todo.map((d) => webhookById.get(d.webhookId)!);
      // Looked at once (the read above may have taken a while): the event's parking and each delivery's.
      const behind = this.behindOf(targets);
      if (this.parks(event.customerId, targets, behind)) {
        this.parkEvent(consumer, event, targets);
        continue;
      }
      this.holdEvent(event);
      for (const w of targets) this.holdDelivery(event.customerId, w.id, 1);
      let remaining = todo.length;
      for (const [i, delivery] of todo.entries())
        this.enqueue(event, delivery, targets[i]!, behind[i]!, () => {
          this.holdDelivery(event.customerId, delivery.webhookId, -1);
          if (--remaining === 0) this.finishEvent(consumer, event);
        });
    }
  }

  /** For each webhook, whether its deliveries are to be parked for now: far behind (see `DeliveryPool.isBehind`) and not paused (a paused one's are held). */
  private behindOf(webhooks: Webhook[]): boolean[] {
    return webhooks.map((w) => !w.pause && this.deps.pool.isBehind(w.id));
  }

  /**
   * Whether an event's deliveries to `webhooks` are parked, not held: every webhook far behind
   * (`behind`, from `behindOf`, when the caller has it; else looked at up to the first that is not),
   * or over budget (`admits`).
   */
  private parks(customerId: string, webhooks: Webhook[], behind?: boolean[]): boolean {
    const allBehind = behind ? behind.every(Boolean) : webhooks.every((w) => !w.pause && this.deps.pool.isBehind(w.id));
    return allBehind || !this.admits(customerId, webhooks);
  }

  /**
   * Whether an event's deliveries to `webhooks` may be held in memory now: within the process's and
   * its customer's budgets; or, over the customer's, when every one of its webhooks is light (holds
   * less than 1/LIGHT_SHARE of the customer's budget) and the customer is within LIGHT_SLACK more: one heavy webhook's
   * backlog is parked, its customer's other webhooks still go at once.
   */
  private admits(customerId: string, webhooks: Webhook[]): boolean {
    const n = webhooks.length;
    const customers = (this.pendingByCustomer.get(customerId) ?? 0) + n;
    if (this.pendingDeliveries + n > this.options.maxPendingDeliveries) return false;
    if (customers <= this.options.maxPendingDeliveriesPerCustomer) return true;
    const light = this.options.maxPendingDeliveriesPerCustomer / LIGHT_SHARE;
    return customers <= this.options.maxPendingDeliveriesPerCustomer + LIGHT_SLACK && webhooks.every((w) => (this.pendingByWebhook.get(w.id) ?? 0) < light);
  }

  private holdDelivery(customerId: string, webhookId: string, change: 1 | -1): void {
    this.pendingDeliveries += change;
    const held = (this.pendingByCustomer.get(customerId) ?? 0) + change;
    if (held === 0) this.pendingByCustomer.delete(customerId);
    else this.pendingByCustomer.set(customerId, held);
    const byWebhook = (this.pendingByWebhook.get(webhookId) ?? 0) + change;
    if (byWebhook === 0) this.pendingByWebhook.delete(webhookId);
    else this.pendingByWebhook.set(webhookId, byWebhook);
  }

  /**
   * Over budget: the event's deliveries go to the store, in the background, one event after another.
   * They come due after the customer's earlier parked ones, at its pace (parkedPerSecondPerCustomer):
   * the retry schedule is served by due time, so a backlog all due at once would hold every other
   * customer's retries behind it.
   */
  private parkEvent(consumer: EventConsumer, event: LoggedEvent, webhooks: Webhook[]): void {
    this.holdEvent(event, "parking");
    this.queuePark(event, webhooks, (parked) => parked && this.finishEvent(consumer, event, "parking"));
  }

  /**
   * Queues deliveries of an event to be parked with the next batch; `done` runs once they are
   * stored and scheduled (true), or once that failed as the dispatcher stops (false: the event is read again).
   * Due at the customer's parked pace, or at `dueAt` when given (a webhook's own limits said when).
   * A delivery handed back by the pool (`handedBack`) goes first: its event holds a place in the
   * read-ahead until it is parked, the events read to be parked do not.
   */
  private queuePark(event: LoggedEvent, webhooks: Webhook[], done: (parked: boolean) => void, handedBack?: { dueAt?: number }): void {
    const deps = this.deps;
    const now = deps.clock.now();
    const spacingMs = this.options.parkedPerSecondPerCustomer > 0 ? 1000 / this.options.parkedPerSecondPerCustomer : 0;
    let firstDueAt = handedBack?.dueAt;
    if (firstDueAt === undefined) {
      for (const [customer, until] of this.parkedUntil) if (until < now) this.parkedUntil.delete(customer);
      firstDueAt = Math.max(now + deps.policy.initialDelayMs, this.parkedUntil.get(event.customerId) ?? 0);
      this.parkedUntil.set(event.customerId, firstDueAt + webhooks.length * spacingMs);
    }
    const entry = { item: { event, webhooks, firstDueAt, spacingMs: handedBack?.dueAt === undefined ? spacingMs : 0 }, done };
    if (handedBack) this.parkQueue.unshift(entry);
    else this.parkQueue.push(entry);
    this.parking ??= this.drainParkQueue();
  }

  /** Parks what waits in the queue, PARK_BATCH events a write, until it is empty. */
  private async drainParkQueue(): Promise<void> {
    const deps = this.deps;
    while (this.parkQueue.length > 0) {
      const batch = this.parkQueue.splice(0, PARK_BATCH);
      await retryUntilStopped(
        () =>
          parkAll(
            deps,
            batch.map((b) => b.item),
          ),
        () => !this.running,
        deps.log,
        "parking deliveries",
      ).then(
        () => {
          for (const { done } of batch) done(true);
        },
        (err) => {
          deps.log.error({ err, events: batch.length }, "could not park deliveries; their events are read again after restart");
          for (const { done } of batch) done(false);
        },
      );
      // SQLite writes hold the thread: let the sockets and timers have a turn between batches.
      await Bun.sleep(0);
    }
    this.parking = undefined;
  }

  private enqueue(event: LoggedEvent, delivery: Delivery, webhook: Webhook, behind: boolean, finishOne: () => void): void {
    const deps = this.deps;
    // Parked: stored, and on the retry schedule without using an attempt, so the log moves on. With
    // the next batch of parked events: a slow webhook's backlog evicted from its lane is hundreds at once.
    const parkIt = (retryAt?: number) =>
      new Promise<void>((settled) =>
        this.queuePark(
          event,
          [webhook],
          (parked) => {
            if (parked) finishOne();
            settled();
          },
          { dueAt: retryAt },
        ),
      );
    if (webhook.pause || webhook.ordering) {
      // Its breaker is open: stored, not scheduled; the probe's success schedules it (health/resume.ts).
      // It delivers in order: stored with its queue and place, and sent when its turn comes (delivery/sequencer.ts).
      void retryUntilStopped(
        () => hold(deps, event, [webhook]),
        () => !this.running,
        deps.log,
        "holding a delivery",
      ).then(finishOne, (err) => deps.log.error({ err, deliveryId: delivery.id }, "could not hold delivery; its event is read again after restart"));
    } else if (behind) void parkIt();
    else deps.pool.send({ delivery, event, webhook }, finishOne, parkIt);
  }

  private holdEvent(event: LoggedEvent, as: "delivering" | "parking" = "delivering"): void {
    if (as === "parking") this.parkingEvents++;
    else this.pendingEvents++;
    this.pendingBytes += event.payload.length;
  }

  /**
   * Registers `event` as under way, unless another copy of it is: then it waits to be finished
   * with that one (returns true). Called again for the same object when a dispatch is retried.
   */
  private isCopyUnderWay(event: LoggedEvent): boolean {
    const key = `${event.customerId}\u0000${event.id}`;
    const first = this.underWay.get(key);
    if (!first) {
      this.underWay.set(key, { event, copies: [] });
      return false;
    }
    if (first.event === event) return false;
    if (!first.copies.includes(event)) first.copies.push(event);
    return true;
  }

  /** Acknowledges an event and every copy of it read while it was under way. */
  private doneWith(consumer: EventConsumer, event: LoggedEvent): void {
    consumer.ack(event);
    const key = `${event.customerId}\u0000${event.id}`;
    const entry = this.underWay.get(key);
    if (entry?.event !== event) return;
    this.underWay.delete(key);
    for (const copy of entry.copies) consumer.ack(copy);
  }

  private finishEvent(consumer: EventConsumer, event: LoggedEvent, as: "delivering" | "parking" = "delivering"): void {
    this.doneWith(consumer, event);
    if (as === "parking") this.parkingEvents--;
    else this.pendingEvents--;
    this.pendingBytes -= event.payload.length;
    const wake = this.capacityWaiter;
    this.capacityWaiter = undefined;
    wake?.();
  }

  /** Stops reading the log and waits for the read in progress to be handed to the pool. */
  async halt(): Promise<void> {
    this.running = false;
    this.capacityWaiter?.();
    await this.loop;
  }

  /** Halts, waits up to the shutdown timeout for in-flight requests (the shared pool's close), commits what finished. */
  async stop(): Promise<void> {
    if (!this.loop) return;
    await this.halt();
    // Deliveries not yet started are parked on the retry schedule; their events are then finished.
    await this.parking;
    const drained = await this.deps.pool.close(this.options.shutdownTimeoutMs);
    if (!drained) this.deps.log.warn({ inFlight: this.deps.pool.size }, "shutdown timeout: unfinished deliveries will be read again after restart");
    await this.consumer?.close();
    this.consumer = undefined;
    this.underWay.clear();
  }
}
