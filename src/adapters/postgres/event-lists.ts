/**
 * @module Finding a customer's events and a webhook's deliveries on PostgreSQL, newest first: each
 * page a seek in an index of migration 0008 (see adapters/event-pages.ts for the paging).
 */
import { deliveryIdFloor } from "../../domain/ids.ts";
import type { Delivery, Event, Page } from "../../domain/model.ts";
import type { DeliveryFilter, EventFilter } from "../../domain/ports.ts";
import { checkedEventFilter, DELIVERY_STATUSES_OF, EVENT_SCAN_WINDOW, type EventKey, eventPage } from "../event-pages.ts";
import { page } from "../rows.ts";
import { guarded, type Sql } from "./client.ts";
import { type DeliveryRow, type EventRow, eventFromRow, toDelivery } from "./rows.ts";

type Keys = { accepted_at: string | number; id: string }[];
const toKeys = (rows: Keys): EventKey[] => rows.map((r) => ({ acceptedAt: Number(r.accepted_at), id: r.id }));

/**
 * The statements of one page of events, as shaped by the filter: the page's keys, and with a delivery
 * status those within the window that have one, and the window's last key. Exported for the query
 * plan tests (tests/contracts/migrations.test.ts).
 */
export function eventListStatements(sql: Sql, customerId: string, f: ReturnType<typeof checkedEventFilter>) {
  const keys = sql`
    SELECT accepted_at, id FROM events
    WHERE customer_id = ${customerId}
      ${f.type !== undefined ? sql`AND type = ${f.type}` : sql``}
      ${f.since !== undefined ? sql`AND accepted_at >= ${f.since}::bigint` : sql``}
      ${f.until !== undefined ? sql`AND accepted_at < ${f.until}::bigint` : sql``}
      ${f.after ? sql`AND (accepted_at, id) < (${f.after.acceptedAt}::bigint, ${f.after.id}::text)` : sql``}
    ORDER BY accepted_at DESC, id DESC`;
  const statuses = f.deliveryStatus ? [...DELIVERY_STATUSES_OF[f.deliveryStatus]] : [];
  return {
    page: () => sql<Keys>`${keys} LIMIT ${f.limit + 1}`,
    withStatus: () => sql<Keys>`
      SELECT accepted_at, id FROM (${keys} LIMIT ${EVENT_SCAN_WINDOW}) AS w
      WHERE EXISTS (SELECT 1 FROM deliveries d WHERE d.customer_id = ${customerId} AND d.event_id = w.id AND d.status = ANY(${statuses}::text[]))
      ORDER BY accepted_at DESC, id DESC LIMIT ${f.limit + 1}`,
    windowEnd: () => sql<Keys>`${keys} LIMIT 1 OFFSET ${EVENT_SCAN_WINDOW - 1}`,
  };
}

export async function listEvents(sql: Sql, customerId: string, filter: EventFilter): Promise<Page<Event>> {
  const f = checkedEventFilter(filter);
  const statements = eventListStatements(sql, customerId, f);
  let keys: EventKey[];
  let windowEnd: EventKey | null = null;
  if (!f.deliveryStatus) keys = toKeys(await guarded(statements.page()));
  else {
    keys = toKeys(await guarded(statements.withStatus()));
    if (keys.length <= f.limit) windowEnd = toKeys(await guarded(statements.windowEnd()))[0] ?? null;
  }
  return eventPage(keys, f.limit, windowEnd, async (ids) =>
    ids.length === 0 ? [] : (await guarded(sql<EventRow[]>`SELECT * FROM events WHERE customer_id = ${customerId} AND id = ANY(${ids}::text[])`)).map(eventFromRow),
  );
}

export async function listDeliveries(sql: Sql, customerId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
  const rows = await guarded(sql<DeliveryRow[]>`
    SELECT * FROM deliveries
    WHERE customer_id = ${customerId}
      ${filter.webhookId ? sql`AND webhook_id = ${filter.webhookId}` : sql``}
      ${filter.eventId ? sql`AND event_id = ${filter.eventId}` : sql``}
      ${filter.status ? sql`AND status = ${filter.status}` : sql``}
      ${filter.since !== undefined ? sql`AND id >= ${deliveryIdFloor(filter.since)}` : sql``}
      ${filter.until !== undefined ? sql`AND id < ${deliveryIdFloor(filter.until)}` : sql``}
      ${filter.cursor !== undefined ? (filter.newestFirst ? sql`AND id < ${filter.cursor}` : sql`AND id > ${filter.cursor}`) : sql``}
    ORDER BY id ${filter.newestFirst ? sql`DESC` : sql``} LIMIT ${filter.limit + 1}`);
  return page(rows.map(toDelivery), filter.limit);
}
