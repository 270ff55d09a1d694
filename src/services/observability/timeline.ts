/**
 * @module An event's whole story for the operator, across customers and roles: accepted by
 * ingest, each attempt by a dispatcher or the retry manager (status and latency), each retry
 * scheduled, dead, and each replay by hand.
 */
import { NotFoundError } from "../../domain/errors.ts";
import type { Attempt, Delivery, Event } from "../../domain/model.ts";
import type { Store } from "../../domain/ports.ts";
import { iso, presentAttempt, presentDelivery } from "../gateway/present.ts";

export type EntryKind = "accepted" | "attempt" | "succeeded" | "retry_scheduled" | "dead" | "replayed";

export interface TimelineEntry {
  at: string;
  kind: EntryKind;
  customer_id: string;
  delivery_id?: string;
  webhook_id?: string;
  attempt_number?: number;
  status_code?: number | null;
  duration_ms?: number;
  error?: string | null;
  /** retry_scheduled: when the next try is due. */
  due_at?: string;
}

const MAX_DELIVERIES = 1000;

function succeeded(attempt: Attempt): boolean {
  return attempt.statusCode !== null && attempt.statusCode >= 200 && attempt.statusCode < 300;
}

/** What followed one attempt: success, a retry at a due time, or dead (out of retries). */
function outcomeOf(attempt: Attempt, isLast: boolean, delivery: Delivery): Omit<TimelineEntry, "customer_id" | "delivery_id" | "webhook_id"> | null {
  const at = iso(attempt.createdAt);
  if (succeeded(attempt)) return { at, kind: "succeeded", attempt_number: attempt.attemptNumber };
  // Attempts recorded before hookrelay kept their next try read undefined: the delivery tells for the last.
  const next = attempt.nextAttemptAt !== undefined ? attempt.nextAttemptAt : isLast ? delivery.nextAttemptAt : null;
  if (next !== null) return { at, kind: "retry_scheduled", attempt_number: attempt.attemptNumber, due_at: iso(next) };
  if (attempt.nextAttemptAt === null || (isLast && delivery.status === "dead")) return { at, kind: "dead", attempt_number: attempt.attemptNumber };
  return null;
}

function deliveryEntries(delivery: Delivery, attempts: Attempt[], replays: number[]): TimelineEntry[] {
  const about = { customer_id: delivery.customerId, delivery_id: delivery.id, webhook_id: delivery.webhookId };
  const entries: TimelineEntry[] = replays.map((at) => ({ ...about, at: iso(at), kind: "replayed" }));
  attempts.forEach((attempt, i) => {
    const shown = presentAttempt(attempt);
    entries.push({
      ...about,
      at: shown.created_at!,
      kind: "attempt",
      attempt_number: attempt.attemptNumber,
      status_code: attempt.statusCode,
      duration_ms: shown.duration_ms,
      error: attempt.error,
    });
    const outcome = outcomeOf(attempt, i === attempts.length - 1, delivery);
    if (outcome) entries.push({ ...about, ...outcome });
  });
  return entries;
}

/** Every customer's event with this id, its deliveries (with attempts), and all of it in time order. */
export async function eventTimeline(store: Store, eventId: string) {
  const events = await store.findEvents(eventId);
  if (events.length === 0) throw new NotFoundError("event", eventId);
  const deliveries: (ReturnType<typeof presentDelivery> & { customer_id: string; attempts: ReturnType<typeof presentAttempt>[] })[] = [];
  const entries: TimelineEntry[] = events.map((e: Event) => ({ at: iso(e.acceptedAt), kind: "accepted", customer_id: e.customerId }));
  for (const event of events) {
    const page = await store.listDeliveries(event.customerId, { eventId: event.id, limit: MAX_DELIVERIES });
    for (const delivery of page.data) {
      const [attempts, replays] = await Promise.all([store.listAttempts(delivery.id), store.listReplays(delivery.id)]);
      deliveries.push({ ...presentDelivery(delivery), customer_id: delivery.customerId, attempts: attempts.map(presentAttempt) });
      entries.push(...deliveryEntries(delivery, attempts, replays));
    }
  }
  // Stable: at one instant an attempt stays before its outcome.
  entries.sort((a, b) => a.at.localeCompare(b.at));
  return {
    event_id: eventId,
    events: events.map((e) => ({ customer_id: e.customerId, type: e.type, source: e.source, accepted_at: iso(e.acceptedAt) })),
    deliveries,
    timeline: entries,
  };
}
