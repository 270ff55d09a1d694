/**
 * @module Ordered delivery (a webhook's `ordering: "fifo"`): its events go one at a time per ordering
 * key (domain/ordering.ts), in the order the store took them (`events.seq`, the log's order).
 *
 * - The dispatcher never sends such a delivery: it holds it (stored with its key and its event's
 *   seq, not scheduled), like a paused webhook's.
 * - The sequencer (retry role) reads the log for each ordered webhook itself, in seq order, and
 *   opens the held deliveries of what it read (idempotent with the dispatcher's). So it knows that
 *   every event up to where it read has its delivery stored, without waiting on any dispatcher.
 * - A key's turn goes to its first unfinished delivery (least seq), once the log is read past it:
 *   it goes on the retry schedule and the retry manager sends it. A failed one is retried in place
 *   and the next waits; once it succeeds or is dead, `advance` gives the turn to the next at once.
 *
 * Events written by two producers at the same moment (neither waited for the other's answer) have no
 * order of their own: the store's seq decides, and one still being written when the sequencer reads
 * past it is sent when its delivery is stored (its turn is then at once, as the least unfinished).
 */
import { SubscriptionIndex } from "../../domain/match.ts";
import type { Event, Webhook } from "../../domain/model.ts";
import type { Clock, RetrySchedule, Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";
import { Subscriptions } from "../webhooks/subscriptions.ts";

export interface SequencerDeps {
  store: Store;
  schedule: RetrySchedule;
  clock: Clock;
  log: Logger;
}

export interface SequencerOptions {
  /** How often every ordered webhook is looked at (a turn also comes at once when a delivery finishes). */
  intervalMs: number;
  /** Called when a turn was put on the schedule, so the retry manager claims it now rather than at its next poll. */
  onScheduled?: () => void;
}

/** Events read from the log at a time, and read batches per webhook per turn at most. */
const READ_BATCH = 500;
const MAX_BATCHES = 20;
/** How stale the list of ordered webhooks may get (a version read at most this often; the list only when it changed). */
const WEBHOOKS_RECHECK_MS = 1000;
/**
 * A webhook whose log had nothing new and none of whose deliveries finished has its queues' turns
 * checked again at least this often anyway: a turn taken off the schedule (its breaker opened, then
 * closed) is given again.
 */
const TURNS_RECHECK_MS = 5000;

export class Sequencer {
  /** Per webhook: how far its log was read (seq), from which start (a new start when its ordering began again), and when its turns were last given. */
  private readonly readTo = new Map<string, { sinceSeq: number; seq: number; turnsAt: number }>();
  /** The ordered webhooks, from the store's webhooks as they change (a version read per WEBHOOKS_RECHECK_MS at most). */
  private readonly webhooks: Subscriptions;
  /** Webhooks one of whose deliveries finished since their last turn: the next of its key goes now. */
  private readonly advanced = new Set<string>();
  private timer: Timer | undefined;
  private turn: Promise<void> | undefined;
  /** Webhooks to look at again as soon as the turn in progress ends. */
  private readonly again = new Map<string, Webhook>();
  /** The index the webhooks were last listed from: its compiled filters decide which events each takes. */
  private index: SubscriptionIndex | undefined;

  constructor(
    private readonly deps: SequencerDeps,
    private readonly options: SequencerOptions,
  ) {
    this.webhooks = new Subscriptions(deps.store, WEBHOOKS_RECHECK_MS);
  }

  start(): void {
    this.timer ??= setInterval(() => void this.sweep(), this.options.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.turn;
  }

  /** A delivery of `webhook` finished (succeeded or dead): the next of its key may go. */
  advance(webhook: Webhook): void {
    if (!webhook.ordering) return;
    this.advanced.add(webhook.id);
    this.again.set(webhook.id, webhook);
    this.turn ??= this.run();
  }

  /** Every active ordered webhook, now (and once more after the turn in progress). */
  private async sweep(): Promise<void> {
    try {
      this.index = await this.webhooks.current(this.deps.clock.now(), 0);
      for (const webhook of this.index.ordered) this.again.set(webhook.id, webhook);
      this.turn ??= this.run();
      await this.turn;
    } catch (err) {
      this.deps.log.warn({ err }, "ordered delivery: could not list webhooks; trying again");
    }
  }

  private async run(): Promise<void> {
    await Promise.resolve(); // `this.turn` is set before this ends, even with nothing to do
    try {
      while (this.again.size > 0) {
        const webhooks = [...this.again.values()];
        this.again.clear();
        for (const webhook of webhooks) {
          try {
            await this.sequence(webhook);
          } catch (err) {
            this.deps.log.warn({ err, webhookId: webhook.id }, "ordered delivery: a turn failed; trying again");
          }
        }
      }
    } finally {
      this.turn = undefined;
    }
  }

  /** Reads the webhook's log past where it was, opening the deliveries of what it read; then gives each key's first its turn. */
  private async sequence(webhook: Webhook): Promise<void> {
    const { store, schedule, clock } = this.deps;
    const ordering = webhook.ordering!;
    let read = this.readTo.get(webhook.id);
    if (!read || read.sinceSeq !== ordering.sinceSeq) {
      // A finished delivery had its turn: the log before it was read then.
      read = { sinceSeq: ordering.sinceSeq, seq: Math.max(ordering.sinceSeq, await store.finishedFifoSeq(webhook.customerId, webhook.id)), turnsAt: 0 };
      this.readTo.set(webhook.id, read);
    }
    const readBefore = read.seq;
    for (let batch = 0; batch < MAX_BATCHES; batch++) {
      const events = await store.orderedEventsAfter(webhook, read.seq, READ_BATCH);
      if (events.length === 0) break;
      // The store picks by type name; type patterns and the payload filter are decided here.
      const taken = events.filter(({ event }) => this.takes(webhook, event));
      if (taken.length > 0)
        await store.openDeliveries(
          taken.map(({ event }) => ({ event, webhooks: [webhook] })),
          clock.now(),
        );
      read.seq = events[events.length - 1]!.seq;
      if (events.length < READ_BATCH) break;
    }
    if (webhook.pause) return; // held until its breaker closes; the probe takes the first (health/prober.ts)
    const now = clock.now();
    // Nothing new to read and nothing finished: the turns given last time stand (checked again now and then).
    const advanced = this.advanced.delete(webhook.id);
    if (read.seq === readBefore && !advanced && now - read.turnsAt < TURNS_RECHECK_MS) return;
    read.turnsAt = now;
    const turns = (await store.fifoHeads(webhook.customerId, webhook.id))
      .filter((head) => head.seq === null || head.seq <= read.seq)
      .map(({ delivery }) => ({ deliveryId: delivery.id, dueAt: Math.max(now, delivery.status === "failed" ? (delivery.nextAttemptAt ?? now) : now) }));
    if (turns.length === 0) return;
    await schedule.ensureScheduled(turns);
    this.options.onScheduled?.();
  }

  /** Whether the webhook takes the event (its types and its filter), with the filter compiled once per listing. */
  private takes(webhook: Webhook, event: Event): boolean {
    this.index ??= new SubscriptionIndex([]);
    return this.index.takes(webhook, event);
  }
}
