/**
 * @module Accepting events: validate, build the delivery body once, append durably, dedupe, and
 * count the webhooks each event goes to.
 */
import { PayloadTooLargeError, UnavailableError, ValidationError } from "../../domain/errors.ts";
import type { SubscriptionIndex } from "../../domain/match.ts";
import type { Event } from "../../domain/model.ts";
import type { AppendOutcome, Clock, EventLog } from "../../domain/ports.ts";
import type { Metrics } from "../../platform/metrics.ts";
import type { Principal } from "../auth/tokens.ts";
import type { EventSchemas } from "../catalog/schemas.ts";
import { batchInput, eventInput } from "./schema.ts";

export interface IngestDeps {
  eventLog: EventLog;
  clock: Clock;
  metrics: Metrics;
  maxEventBytes: number;
  maxBatchEvents: number;
  /** Events of this process waiting to be stored; past `limit`, ingest answers 503. */
  pending: PendingEvents;
  /** The webhooks subscribed as of a read begun after the request arrived (src/services/webhooks/subscriptions.ts). */
  subscriptions: { afterNow(): Promise<SubscriptionIndex> };
  /** The catalog's schemas: an event of a type with one must satisfy it (src/services/catalog/schemas.ts). */
  schemas: Pick<EventSchemas, "checkerFor">;
}

/**
 * Load shedding: the events this process has taken and not yet stored. An open-loop producer
 * faster than the store would otherwise grow the queue (and the open requests) until every
 * answer times out; past either limit (events, or their bytes: 5,000 events of 256 KiB would be
 * 1.2 GiB of heap) a request gets 503 with `Retry-After` at once, and what is accepted keeps its
 * latency.
 */
export class PendingEvents {
  count = 0;
  bytes = 0;
  constructor(
    readonly limit: number,
    readonly maxBytes = Number.POSITIVE_INFINITY,
  ) {}

  /** Why no more events are taken now, or null: the ingest listener's early refusal (HttpDeps.shed). */
  full(): string | null {
    return this.count >= this.limit || this.bytes >= this.maxBytes ? this.refusal() : null;
  }

  private refusal(): string {
    return `ingest is at capacity (${this.count} events, ${Math.ceil(this.bytes / 1024)} KiB waiting to be stored); retry in a second`;
  }

  /** Runs `store` for `n` events of `bytes` in all if there is room (always when nothing waits), else refuses with 503. */
  async storeIfRoom<T>(n: number, bytes: number, store: () => Promise<T>): Promise<T> {
    if (this.count > 0 && (this.count + n > this.limit || this.bytes + bytes > this.maxBytes)) throw new UnavailableError(this.refusal(), 1);
    this.count += n;
    this.bytes += bytes;
    try {
      return await store();
    } finally {
      this.count -= n;
      this.bytes -= bytes;
    }
  }
}

/** Validates one event and turns it into what the log keeps. */
export function validateEvent(deps: IngestDeps, principal: Principal, raw: unknown, where = "body"): Event {
  const input = eventInput.parse(raw, where);
  if (!("data" in input)) throw new ValidationError(`${where === "body" ? "" : `${where}.`}data: is required (any JSON value)`);
  const acceptedAt = deps.clock.now();
  const timestamp = input.timestamp ?? new Date(acceptedAt).toISOString();
  const payload = JSON.stringify({ id: input.id, type: input.type, source: input.source, data: input.data, timestamp });
  if (Buffer.byteLength(payload) > deps.maxEventBytes) throw new PayloadTooLargeError(deps.maxEventBytes);
  return { customerId: principal.customerId, id: input.id, type: input.type, source: input.source, timestamp, payload, acceptedAt };
}

/**
 * A single event's answer: `matched_webhooks` counts the active webhooks of the event's customer
 * subscribed to its type when it was accepted (for a duplicate: now).
 */
export interface EventAnswer {
  id: string;
  status: AppendOutcome;
  matched_webhooks: number;
}

/**
 * Appends one event; resolves once it is durable (or known as a duplicate). The webhooks are read
 * while it is appended, by a read begun after the request arrived: one created before is counted.
 */
export async function acceptEvent(deps: IngestDeps, principal: Principal, raw: unknown): Promise<EventAnswer> {
  const event = validateEvent(deps, principal, raw);
  (await deps.schemas.checkerFor(principal.customerId))(event, "");
  const [[outcome], subscribed] = await Promise.all([appendIfRoom(deps, [event]), deps.subscriptions.afterNow()]);
  deps.metrics.eventsIngested.inc({ outcome: outcome! });
  return { id: event.id, status: outcome!, matched_webhooks: subscribed.count(event) };
}

/**
 * A batch's answer: how many events were new and how many duplicates, and the duplicates' ids in
 * the batch's order, one per duplicate event (an id repeated within the batch is accepted once and
 * listed for each repeat). `matched_webhooks` counts the (event, webhook) pairs of the new events
 * as of their acceptance, and `unmatched_ids` names the new events no webhook subscribes to, in
 * the batch's order.
 */
export interface BatchAnswer {
  accepted: number;
  duplicates: number;
  duplicate_ids: string[];
  matched_webhooks: number;
  unmatched_ids: string[];
}

/**
 * Appends a batch all-or-nothing on validation: one bad event rejects the batch, naming it.
 * `charge` runs once the batch is known to be valid, with its size (the customer's rate limit).
 */
export async function acceptBatch(deps: IngestDeps, principal: Principal, raw: unknown, charge: (events: number) => Promise<void> = async () => {}): Promise<BatchAnswer> {
  const { events: items } = batchInput.parse(raw);
  if (items.length > deps.maxBatchEvents) throw new ValidationError(`events: ${items.length} events is more than the limit of ${deps.maxBatchEvents} per batch`);
  const events = items.map((item, i) => validateEvent(deps, principal, item, `events[${i}]`));
  const check = await deps.schemas.checkerFor(principal.customerId);
  for (const [i, event] of events.entries()) check(event, `events[${i}].`);
  await charge(events.length);
  const [outcomes, subscribed] = await Promise.all([appendIfRoom(deps, events), deps.subscriptions.afterNow()]);
  // Outcomes come in the batch's order: the duplicates' and the unmatched events' ids are read off in one pass.
  const duplicateIds: string[] = [];
  const unmatchedIds: string[] = [];
  let matched = 0;
  for (let i = 0; i < outcomes.length; i++) {
    const event = events[i]!;
    if (outcomes[i] !== "accepted") {
      duplicateIds.push(event.id);
      continue;
    }
    const webhooks = subscribed.count(event);
    matched += webhooks;
    if (webhooks === 0) unmatchedIds.push(event.id);
  }
  const accepted = outcomes.length - duplicateIds.length;
  deps.metrics.eventsIngested.inc({ outcome: "accepted" }, accepted);
  deps.metrics.eventsIngested.inc({ outcome: "duplicate" }, duplicateIds.length);
  return { accepted, duplicates: duplicateIds.length, duplicate_ids: duplicateIds, matched_webhooks: matched, unmatched_ids: unmatchedIds };
}

function appendIfRoom(deps: IngestDeps, events: Event[]): Promise<AppendOutcome[]> {
  const bytes = events.reduce((sum, e) => sum + e.payload.length, 0);
  return deps.pending
    .storeIfRoom(events.length, bytes, () => deps.eventLog.append(events))
    .catch((err) => {
      if (err instanceof UnavailableError && err.retryAfterSeconds !== undefined) deps.metrics.eventsIngested.inc({ outcome: "refused" }, events.length);
      throw err;
    });
}
