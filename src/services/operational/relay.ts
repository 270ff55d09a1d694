/**
 * @module hookrelay's own events for the operator's operational webhooks: every customer's webhook
 * health changes (`webhook.disabled`, `webhook.paused`, `webhook.resumed`, as the store records them
 * with the change) and deliveries that died (`delivery.dead`), appended to the event log as events
 * of the operator's customer (OPERATOR_CUSTOMER_ID). From there they go as any event goes: matched
 * to the operational webhooks subscribed, signed, retried, dead-lettered.
 *
 * Nothing is lost between the record and the log: the relay reads the store (what happened is
 * there, written with the change itself) forward from where it was, by id (health changes, whose
 * ids are time-ordered) and by time of death then id (deliveries), page after page. Each
 * LOOKBACK_MS / 2 it reads the last LOOKBACK_MS again, for a record written late by a process whose
 * clock lags. Each event's id comes from what it reports, so a record read twice is appended once
 * (the log keeps an id once). A relay that starts goes on from the newest event it appended
 * before, or (none yet) from when the first operational webhook was made. Several retry processes
 * relay the same records; the log keeps each once.
 */

import { idFloor } from "../../domain/ids.ts";
import type { Delivery, Event, OperationalEvent } from "../../domain/model.ts";
import { OPERATOR_CUSTOMER_ID } from "../../domain/model.ts";
import type { Clock, EventLog, Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";

export interface RelayDeps {
  /** This process's store (a shard's own: each shard relays what it recorded). */
  store: Store;
  /** The event log every role appends to (over shards: the operator customer's shard). */
  eventLog: EventLog;
  clock: Clock;
  log: Logger;
}

/** How far back each read goes again, for a record written late. */
export const LOOKBACK_MS = 60_000;
/** Operational webhooks read to find the first one made (an operator has a handful). */
const OPERATIONAL_WEBHOOKS_READ = 1000;
/** Records read at a time, of each kind. */
const BATCH = 500;
const SOURCE = "hookrelay";

/** A health change as the event an operational webhook receives. */
export function healthChangeEvent(e: OperationalEvent, now: number): Event {
  const timestamp = new Date(e.createdAt).toISOString();
  const data = { customer_id: e.customerId, webhook_id: e.webhookId, reason: e.reason, occurred_at: timestamp };
  return eventOf(e.id, e.type, data, timestamp, now);
}

/** A delivery that died as the event an operational webhook receives; one per death (a manual retry that dies again is another). */
export function deadDeliveryEvent(d: Delivery, now: number): Event {
  const timestamp = new Date(d.updatedAt).toISOString();
  const data = {
    customer_id: d.customerId,
    webhook_id: d.webhookId,
    delivery_id: d.id,
    event_id: d.eventId,
    attempts: d.attemptCount,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    occurred_at: timestamp,
  };
  return eventOf(`dead_${d.id}_${d.attemptCount}`, "delivery.dead", data, timestamp, now);
}

function eventOf(id: string, type: string, data: object, timestamp: string, now: number): Event {
  return {
    customerId: OPERATOR_CUSTOMER_ID,
    id,
    type,
    source: SOURCE,
    timestamp,
    payload: JSON.stringify({ id, type, source: SOURCE, data, timestamp }),
    acceptedAt: now,
  };
}

type DeathCursor = { updatedAt: number; id: string };

export class OperationalRelay {
  private timer: Timer | undefined;
  private turn: Promise<void> | undefined;
  /** Where the forward reads are; null until the first turn finds where a relay left off. */
  private position: { change: string; death: DeathCursor } | null = null;
  /** When the last look-back read was made. */
  private lookedBackAt = 0;

  constructor(
    private readonly deps: RelayDeps,
    private readonly intervalMs: number,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.turn ??= this.relay()
        .catch((err) => this.deps.log.warn({ err }, "operational events: a relay turn failed; trying again"))
        .finally(() => {
          this.turn = undefined;
        });
    }, this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.turn;
  }

  /** One turn: what was recorded since where it was, appended page by page; now and then the look-back again. */
  async relay(): Promise<void> {
    const { store, clock } = this.deps;
    const now = clock.now();
    // No operational webhook: nothing to send to, and nothing kept for later (a webhook receives what happens after it is made).
    if ((await store.listWebhooks(OPERATOR_CUSTOMER_ID, 1)).data.length === 0) {
      this.position = startingAt(now);
      return;
    }
    this.position ??= startingAt(await this.lastRelayed(now));
    if (now - this.lookedBackAt >= LOOKBACK_MS / 2) {
      // Read again from a look-back before where it is; the log keeps what it had already.
      await this.readForward(startingAt(Math.min(now, this.position.death.updatedAt) - LOOKBACK_MS), now);
      this.lookedBackAt = now;
    }
    this.position = await this.readForward(this.position, now);
  }

  /** Appends every record after `from`, a page at a time; answers where it ended. */
  private async readForward(from: { change: string; death: DeathCursor }, now: number): Promise<{ change: string; death: DeathCursor }> {
    const { store, eventLog } = this.deps;
    let { change, death } = from;
    for (;;) {
      const [changes, deaths] = await Promise.all([store.operationalEventsAfter(change, BATCH), store.deadDeliveriesAfter(death, BATCH)]);
      const events = [...changes.map((e) => healthChangeEvent(e, now)), ...deaths.map((d) => deadDeliveryEvent(d, now))];
      if (events.length > 0) await eventLog.append(events);
      if (changes.length > 0) change = changes[changes.length - 1]!.id;
      if (deaths.length > 0) death = { updatedAt: deaths[deaths.length - 1]!.updatedAt, id: deaths[deaths.length - 1]!.id };
      if (changes.length < BATCH && deaths.length < BATCH) return { change, death };
    }
  }

  /**
   * Where a relay left off: the newest operational event appended (its `occurred_at`); with none
   * appended yet, when the first operational webhook was made (it receives what happened since,
   * even if no relay ran then).
   */
  private async lastRelayed(now: number): Promise<number> {
    const { store } = this.deps;
    const [newest] = (await store.listEvents(OPERATOR_CUSTOMER_ID, { limit: 1 })).data;
    if (newest) return Math.min(now, Date.parse(newest.timestamp));
    const webhooks = (await store.listWebhooks(OPERATOR_CUSTOMER_ID, OPERATIONAL_WEBHOOKS_READ)).data;
    return Math.min(now, ...webhooks.map((w) => Date.parse(w.createdAt)));
  }
}

/** The forward reads' position at a time: every record from then on comes after it. */
function startingAt(ms: number): { change: string; death: DeathCursor } {
  return { change: idFloor("ope", ms), death: { updatedAt: ms - 1, id: "\uffff" } };
}
