/** @module How an event travels as a Kafka message: keyed by customer and type, the event as JSON. */
import type { Event } from "../../domain/model.ts";

/**
 * The key: a customer's events of one type land on one partition, in the order they were
 * accepted, so a webhook reads each type it subscribes to in order; a customer's different
 * types spread over partitions, so one large customer still scales out over dispatchers.
 */
export function messageKey(event: Event): string {
  return `${event.customerId}\u0000${event.type}`;
}

/** A header on a message produced from the outbox: it may be in the log already, and read before. */
export const REPUBLISHED_HEADER = "hookrelay-republished";

export function encodeEvent(event: Event): string {
  return JSON.stringify(event);
}

/** The event in a message value; throws on anything that is not one. */
export function decodeEvent(value: string): Event {
  const e = JSON.parse(value) as Partial<Event>;
  for (const field of ["customerId", "id", "type", "source", "timestamp", "payload"] as const) if (typeof e[field] !== "string") throw new Error(`kafka message is not an event: '${field}' missing`);
  if (typeof e.acceptedAt !== "number") throw new Error("kafka message is not an event: 'acceptedAt' missing");
  return e as Event;
}
