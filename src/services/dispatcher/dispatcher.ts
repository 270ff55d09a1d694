/**
 * @module The dispatcher: reads the event log, fans each event out to its webhooks, and
 * acks an event only when every delivery of it is done or durably scheduled for retry.
 */
import { type Delivery, type Webhook, freshDelivery } from "../../domain/model.ts";
import type { EventConsumer, EventLog, LoggedEvent } from "../../domain/ports.ts";
import type { AttemptDeps } from "../delivery/attempt.ts";
import type { DeliveryPool } from "../delivery/pool.ts";
import { park, rescheduleStored } from "../delivery/transitions.ts";
import { persist } from "../../platform/persist.ts";
import { Subscriptions } from "./subscriptions.ts";

export interface DispatcherOptions {
  group: string;
  readBatch: number;
  maxPendingEvents: number;
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
  private pendingEvents = 0;
  private capacityWaiter: (() => void) | undefined;

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
        if (room <= 0) {
          await new Promise<void>((resolve) => (this.capacityWaiter = resolve));
          continue;
        }
        const events = await consumer.poll(Math.min(room, this.options.readBatch), this.options.pollIntervalMs);
        // Events read must be dispatched: skipping them would hold the committed position until a restart.
        if (events.length > 0) await persist(() => this.dispatch(consumer, events), () => !this.running, this.deps.log, "dispatching events");
      } catch (err) {
        this.deps.log.error({ err }, "dispatch loop failed; retrying");
        await Bun.sleep(this.options.pollIntervalMs);
      }
    }
  }

  private async dispatch(consumer: EventConsumer, events: LoggedEvent[]): Promise<void> {
    const newest = events.reduce((max, e) => Math.max(max, e.acceptedAt), 0);
    const index = await this.subscriptions.current(this.deps.clock.now(), newest);
    const fanOuts = events.map((event) => ({ event, webhooks: index.match(event.customerId, event.type) }));
    const withTargets = fanOuts.filter((f) => f.webhooks.length > 0);
    // A delivery is stored by its first outcome (or when parked): only a re-read event has some
    // already, and those are the retry manager's (back on its schedule), not sent from here.
    const stored = await rescheduleStored(this.deps, withTargets);
    const byEvent = new Map(withTargets.map((f, i) => [f.event, stored[i]!]));
    const now = this.deps.clock.now();
    for (const { event, webhooks } of fanOuts) {
      const before = new Set((byEvent.get(event) ?? []).map((d) => d.webhookId));
      const todo = webhooks.filter((w) => !before.has(w.id)).map((w) => freshDelivery(event, w.id, now));
      if (todo.length === 0) {
        consumer.ack(event);
        continue;
      }
      this.pendingEvents++;
      let remaining = todo.length;
      const finishOne = () => {
        if (--remaining === 0) this.finishEvent(consumer, event);
      };
      const webhookById = new Map(webhooks.map((w) => [w.id, w]));
      for (const delivery of todo) this.enqueue(event, delivery, webhookById.get(delivery.webhookId)!, finishOne);
    }
  }

  private enqueue(event: LoggedEvent, delivery: Delivery, webhook: Webhook, finishOne: () => void): void {
    const deps = this.deps;
    // Parked: stored, and on the retry schedule without using an attempt, so the log moves on.
    const parkIt = () =>
      persist(() => park(deps, event, webhook, delivery.id), () => !this.running, deps.log, "parking a delivery").then(
        finishOne,
        (err) => deps.log.error({ err, deliveryId: delivery.id }, "could not park delivery; its event is read again after restart"),
      );
    if (deps.pool.isBehind(webhook.id)) void parkIt();
    else deps.pool.send({ delivery, event, webhook }, finishOne, parkIt);
  }

  private finishEvent(consumer: EventConsumer, event: LoggedEvent): void {
    consumer.ack(event);
    this.pendingEvents--;
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
    const drained = await this.deps.pool.close(this.options.shutdownTimeoutMs);
    if (!drained)
      this.deps.log.warn({ inFlight: this.deps.pool.size }, "shutdown timeout: unfinished deliveries will be read again after restart");
    await this.consumer?.close();
    this.consumer = undefined;
  }
}
