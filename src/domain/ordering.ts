/**
 * @module Ordered delivery's queues: which queue (ordering key) an event joins at a webhook that
 * delivers in order. The webhook names a dot path into the event as its producer sent it
 * (`data.account_id`); events with the same value there are one queue, delivered one at a time in
 * ingest order, while other values' queues go on. Without a path the whole webhook is one queue.
 */
import type { Event, Webhook } from "./model.ts";

/** Segments of an ordering key path at most, and the characters of one. */
const MAX_SEGMENTS = 8;
const SEGMENT = /^[A-Za-z0-9_-]{1,64}$/;
/** The top-level fields of an event a path may start from. */
const ROOTS = new Set(["id", "type", "source", "data", "timestamp"]);
/** Ordering keys longer than this are cut: they name a queue, nothing more. */
const MAX_KEY_LENGTH = 256;

/** Problems with an ordering key path, as messages naming it; empty when it is fine. */
export function orderingKeyProblems(path: string, field = "ordering_key"): string[] {
  const segments = path.split(".");
  if (segments.length > MAX_SEGMENTS) return [`${field}: '${path}' has more than ${MAX_SEGMENTS} segments`];
  const bad = segments.find((s) => !SEGMENT.test(s));
  if (bad !== undefined) return [`${field}: '${path}' is not a dot path of names (letters, digits, _ and -, at most 64 each): '${bad}'`];
  if (!ROOTS.has(segments[0]!)) return [`${field}: '${path}' must start with one of ${[...ROOTS].join(", ")} (e.g. data.account_id)`];
  return [];
}

/**
 * The queue an event joins at an ordered webhook: the value at the webhook's key path (a string,
 * number or boolean, as text), or "" (the webhook's default queue) when there is no path, or the
 * event has no such value there.
 */
export function orderKeyOf(webhook: Webhook, event: Event): string {
  const path = webhook.ordering?.key;
  if (!path) return "";
  let value: unknown = JSON.parse(event.payload);
  for (const segment of path.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return "";
    value = (value as Record<string, unknown>)[segment];
  }
  if (typeof value === "string") return value.slice(0, MAX_KEY_LENGTH);
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return "";
}
