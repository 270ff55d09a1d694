/**
 * @module Finding a customer's events and a webhook's deliveries on embedded SQLite, newest first:
 * each page a seek in an index of migration 0009 (see adapters/event-pages.ts for the paging).
 */
import type { Database } from "bun:sqlite";
import { deliveryIdFloor } from "../../domain/ids.ts";
import type { Delivery, Event, Page } from "../../domain/model.ts";
import type { DeliveryFilter, EventFilter } from "../../domain/ports.ts";
import { checkedEventFilter, DELIVERY_STATUSES_OF, EVENT_SCAN_WINDOW, type EventKey, eventPage } from "../event-pages.ts";
import { page } from "../rows.ts";
import { type DeliveryRow, type EventRow, eventFromRow, toDelivery } from "./rows.ts";

type Params = Record<string, string | number>;

/**
 * The statements of one page of events, as shaped by the filter (which conditions it has): the
 * keys of the page, and with a delivery status the keys that have one within the window and the
 * window's last key. Exported for the query plan tests (tests/contracts/migrations.test.ts).
 */
export function eventListStatements(f: Pick<EventFilter, "type" | "since" | "until" | "deliveryStatus"> & { after: EventKey | null }) {
  const where = ["customer_id = $customer"];
  if (f.type !== undefined) where.push("type = $type");
  if (f.since !== undefined) where.push("accepted_at >= $since");
  if (f.until !== undefined) where.push("accepted_at < $until");
  if (f.after) where.push("(accepted_at, id) < ($afterAt, $afterId)");
  const keys = `SELECT accepted_at, id FROM events WHERE ${where.join(" AND ")} ORDER BY accepted_at DESC, id DESC`;
  const statuses = f.deliveryStatus ? DELIVERY_STATUSES_OF[f.deliveryStatus].map((s) => `'${s}'`).join(", ") : "";
  return {
    page: `${keys} LIMIT $limit`,
    withStatus: `SELECT accepted_at, id FROM (${keys} LIMIT ${EVENT_SCAN_WINDOW}) AS w
      WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.customer_id = $customer AND d.event_id = w.id AND d.status IN (${statuses}))
      ORDER BY accepted_at DESC, id DESC LIMIT $limit`,
    windowEnd: `${keys} LIMIT 1 OFFSET ${EVENT_SCAN_WINDOW - 1}`,
  };
}

export async function listEvents(db: Database, customerId: string, filter: EventFilter): Promise<Page<Event>> {
  const f = checkedEventFilter(filter);
  const params: Params = { customer: customerId };
  if (f.type !== undefined) params.type = f.type;
  if (f.since !== undefined) params.since = f.since;
  if (f.until !== undefined) params.until = f.until;
  if (f.after) Object.assign(params, { afterAt: f.after.acceptedAt, afterId: f.after.id });
  const statements = eventListStatements(f);
  const keysOf = (sql: string, extra: Params = {}) =>
    db
      .query<{ accepted_at: number; id: string }, [Params]>(sql)
      .all({ ...params, ...extra })
      .map((r): EventKey => ({ acceptedAt: r.accepted_at, id: r.id }));
  let keys: EventKey[];
  let windowEnd: EventKey | null = null;
  if (!f.deliveryStatus) keys = keysOf(statements.page, { limit: f.limit + 1 });
  else {
    keys = keysOf(statements.withStatus, { limit: f.limit + 1 });
    if (keys.length <= f.limit) windowEnd = keysOf(statements.windowEnd)[0] ?? null;
  }
  return eventPage(keys, f.limit, windowEnd, async (ids) =>
    ids.length === 0
      ? []
      : db
          .query<EventRow, string[]>(`SELECT * FROM events WHERE customer_id = ? AND id IN (${ids.map(() => "?").join(", ")})`)
          .all(customerId, ...ids)
          .map(eventFromRow),
  );
}

/** The statement of a page of deliveries as shaped by the filter; exported for the query plan tests. */
export function deliveryListStatement(f: Omit<DeliveryFilter, "limit">): string {
  const where = ["customer_id = $customer"];
  if (f.webhookId) where.push("webhook_id = $webhook");
  if (f.eventId) where.push("event_id = $event");
  if (f.status) where.push("status = $status");
  if (f.since !== undefined) where.push("id >= $from");
  if (f.until !== undefined) where.push("id < $to");
  if (f.cursor !== undefined) where.push(f.newestFirst ? "id < $cursor" : "id > $cursor");
  return `SELECT * FROM deliveries WHERE ${where.join(" AND ")} ORDER BY id ${f.newestFirst ? "DESC" : ""} LIMIT $limit`;
}

export function listDeliveries(db: Database, customerId: string, filter: DeliveryFilter): Page<Delivery> {
  const params: Params = { customer: customerId, limit: filter.limit + 1 };
  if (filter.webhookId) params.webhook = filter.webhookId;
  if (filter.eventId) params.event = filter.eventId;
  if (filter.status) params.status = filter.status;
  if (filter.since !== undefined) params.from = deliveryIdFloor(filter.since);
  if (filter.until !== undefined) params.to = deliveryIdFloor(filter.until);
  if (filter.cursor !== undefined) params.cursor = filter.cursor;
  const rows = db.query<DeliveryRow, [Params]>(deliveryListStatement(filter)).all(params);
  return page(rows.map(toDelivery), filter.limit);
}
