/**
 * @module Ordered delivery's queues: which queue (ordering key) an event joins at a webhook that
 * delivers in order. The webhook names a dot path into the event as its producer sent it
 * (`data.account_id`); events with the same value there are one queue, delivered one at a time in
 * ingest order, while other values' queues go on. Without a path the whole webhook is one queue.
 */
import { compilePath, eventPathProblems, valueAt } from "./event-path.ts";
import type { Event, Webhook } from "./model.ts";

/** Ordering keys longer than this are cut: they name a queue, nothing more. */
const MAX_KEY_LENGTH = 256;

/** Problems with an ordering key path, as messages naming it; empty when it is fine. */
export function orderingKeyProblems(path: string, field = "ordering_key"): string[] {
  return eventPathProblems(path, field);
}

/**
 * The queue an event joins at an ordered webhook: the value at the webhook's key path (a string,
 * number or boolean, as text), or "" (the webhook's default queue) when there is no path, or the
 * event has no such value there.
 */
export function orderKeyOf(webhook: Webhook, event: Event): string {
  const path = webhook.ordering?.key;
  if (!path) return "";
  const value = valueAt(JSON.parse(event.payload), compilePath(path));
  if (typeof value === "string") return value.slice(0, MAX_KEY_LENGTH);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}
