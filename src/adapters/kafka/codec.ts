/** @module How an event travels as a Kafka message: keyed by customer, the event as JSON. */
import type { Event } from "../../domain/model.ts";

/**
 * The key: one customer's events land on one partition, so each webhook (which belongs to
 * one customer) sees its events in the order they were accepted.
 */
export function messageKey(event: Event): string {
  return event.customerId;
}

export function encodeEvent(event: Event): string {
  return JSON.stringify(event);
}

/** The event in a message value; throws on anything that is not one. */
export function decodeEvent(value: string): Event {
  const e = JSON.parse(value) as Partial<Event>;
  for (const field of ["customerId", "id", "type", "source", "timestamp", "payload"] as const)
    if (typeof e[field] !== "string") throw new Error(`kafka message is not an event: '${field}' missing`);
  if (typeof e.acceptedAt !== "number") throw new Error("kafka message is not an event: 'acceptedAt' missing");
  return e as Event;
}
