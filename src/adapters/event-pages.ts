/**
 * @module Pages of a customer's events, newest first, as both stores read them: the cursor (the last
 * event's acceptance time and id, opaque to callers), and the bounded look for events by the status
 * of their deliveries.
 *
 * Events are listed by `(accepted_at, id)` descending, a seek in `events_by_customer_time` (or
 * `events_by_customer_type_time` for one type). A delivery status is not in the events table: a
 * page walks the events newest first and keeps those with such a delivery (a probe of the
 * deliveries' unique index each). Where few match, that walk could cover a customer's whole
 * history in one call; it stops after EVENT_SCAN_WINDOW events instead, and the page, perhaps
 * short or empty, carries the cursor to go on from there.
 */
import { ValidationError } from "../domain/errors.ts";
import type { Event, Page } from "../domain/model.ts";
import type { EventDeliveryStatus, EventFilter } from "../domain/ports.ts";

/** Events one page with a delivery status filter looks at, at most. */
export const EVENT_SCAN_WINDOW = 10_000;

/** The delivery statuses each filter looks for. */
export const DELIVERY_STATUSES_OF: Record<EventDeliveryStatus, readonly string[]> = {
  failed: ["failed", "dead"],
  pending: ["pending", "failed"],
};

/** Where a page of events starts: strictly before this event (newest first). */
export interface EventKey {
  acceptedAt: number;
  id: string;
}

export function eventCursor(key: EventKey): string {
  return Buffer.from(`${key.acceptedAt}:${key.id}`).toString("base64url");
}

/** The key a cursor names; a cursor not made by `eventCursor` is a 422 naming it. */
export function eventKeyOf(cursor: string): EventKey {
  const text = Buffer.from(cursor, "base64url").toString();
  const colon = text.indexOf(":");
  const acceptedAt = Number(text.slice(0, colon));
  if (colon < 1 || !Number.isSafeInteger(acceptedAt) || colon === text.length - 1) throw new ValidationError("cursor: not a cursor of this list (pass next_cursor as it was answered)");
  return { acceptedAt, id: text.slice(colon + 1) };
}

/**
 * A page from the keys a store found: `keys` newest first, at most `limit + 1` (one more says that
 * there is a next page), with the full events read for those kept. `windowEnd`: with a delivery
 * status filter, the last event the window looked at when it looked at all EVENT_SCAN_WINDOW (the
 * next page starts after it), else null.
 */
export async function eventPage(keys: EventKey[], limit: number, windowEnd: EventKey | null, read: (ids: string[]) => Promise<Event[]>): Promise<Page<Event>> {
  const kept = keys.slice(0, limit);
  const byId = new Map((await read(kept.map((k) => k.id))).map((e) => [e.id, e]));
  const data = kept.map((k) => byId.get(k.id)).filter((e): e is Event => e !== undefined);
  const last = keys.length > limit ? kept[kept.length - 1]! : windowEnd;
  return { data, nextCursor: last ? eventCursor(last) : null };
}

/** The filter's bounds checked once for both stores: a time range that is not one is refused. */
export function checkedEventFilter(filter: EventFilter): EventFilter & { after: EventKey | null } {
  if (filter.since !== undefined && filter.until !== undefined && filter.since >= filter.until) throw new ValidationError("since: must be before until");
  return { ...filter, after: filter.cursor ? eventKeyOf(filter.cursor) : null };
}
