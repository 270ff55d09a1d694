/**
 * @module The operator's reads over every customer on embedded SQLite: webhook health, recent
 * failures, and an event id looked up under every customer. Each reads through an index: the
 * failing rows, the listed webhooks' index entries, one seek per customer; never a whole table
 * of deliveries or events.
 */
import type { Database } from "bun:sqlite";
import type { Delivery, Event } from "../../domain/model.ts";
import type { WebhookHealth } from "../../domain/ports.ts";
import { toCounts, toLastFailure } from "../rows.ts";
import type { SecretBox } from "../secret-box.ts";
import { type DeliveryRow, type EventRow, eventFromRow, toDelivery, toWebhook, type WebhookRow } from "./rows.ts";

/**
 * Failed and dead deliveries only, through the partial index of migration 0004. INDEXED BY because,
 * without statistics, the planner prefers a scan of deliveries_by_webhook_status (every delivery)
 * for a GROUP BY webhook_id; and a query naming an index it cannot use fails instead of scanning.
 */
const FAILING = "deliveries INDEXED BY deliveries_failing_by_updated WHERE status IN ('failed', 'dead')";

/** A page of webhooks, failing ones first, each with its newest failing delivery as JSON (null when none). */
const HEALTH_PAGE = `
  WITH failing AS (
    SELECT webhook_id, id, event_id, status, last_status_code, last_error, updated_at,
           row_number() OVER (PARTITION BY webhook_id ORDER BY updated_at DESC, id DESC) AS newest
    FROM ${FAILING}
  )
  SELECT w.*, CASE WHEN f.id IS NULL THEN NULL ELSE json_object(
           'id', f.id, 'event_id', f.event_id, 'status', f.status,
           'last_status_code', f.last_status_code, 'last_error', f.last_error, 'updated_at', f.updated_at) END AS failure
  FROM webhooks w LEFT JOIN failing f ON f.webhook_id = w.id AND f.newest = 1
  ORDER BY f.id IS NULL, w.customer_id, w.id
  LIMIT ?`;

/** Counts by status of the page's webhooks; deliveries_by_webhook_status (webhook_id, status, id) covers it. */
const HEALTH_COUNTS = `
  SELECT webhook_id, status, count(*) AS n FROM deliveries
  WHERE webhook_id IN (SELECT value FROM json_each(?))
  GROUP BY webhook_id, status`;

/** Every webhook with its delivery counts and last failure, in two statements whatever the number of webhooks. */
export function webhookHealth(db: Database, secrets: SecretBox, limit: number): WebhookHealth[] {
  // One read transaction: the page and its counts come from the same snapshot.
  return db.transaction(() => {
    const rows = db.query<WebhookRow & { failure: string | null }, [number]>(HEALTH_PAGE).all(limit);
    const byWebhook = new Map<string, { status: string; n: number }[]>();
    for (const row of db.query<{ webhook_id: string; status: string; n: number }, [string]>(HEALTH_COUNTS).all(JSON.stringify(rows.map((r) => r.id)))) {
      const list = byWebhook.get(row.webhook_id) ?? [];
      list.push(row);
      byWebhook.set(row.webhook_id, list);
    }
    return rows.map((row) => ({ webhook: toWebhook(row, secrets), counts: toCounts(byWebhook.get(row.id) ?? []), lastFailure: toLastFailure(row.failure) }));
  })();
}

/** Newest first, read backwards along the partial index: failing rows only, and no sort. */
const RECENT_FAILURES = `SELECT * FROM ${FAILING} ORDER BY updated_at DESC LIMIT ?`;

export function recentFailures(db: Database, limit: number): Delivery[] {
  return db.query<DeliveryRow, [number]>(RECENT_FAILURES).all(limit).map(toDelivery);
}

/**
 * The customers are walked along the events' unique index (customer_id, id) itself, one seek to the
 * next customer_id after another (a loose index scan), and each is probed for the id: one seek per
 * customer instead of a scan of events, and with no index on id alone to slow ingest. It finds every
 * customer that has events, including those the customers table does not know (a customer named only
 * by an external issuer's token claim); the table of customers would miss them.
 */
const FIND_EVENTS = `
  WITH RECURSIVE owners(customer_id) AS (
    SELECT min(customer_id) FROM events
    UNION ALL
    SELECT (SELECT min(customer_id) FROM events WHERE customer_id > owners.customer_id) FROM owners WHERE owners.customer_id IS NOT NULL
  )
  SELECT e.* FROM owners JOIN events e ON e.customer_id = owners.customer_id AND e.id = ?
  ORDER BY e.customer_id`;

export function findEvents(db: Database, id: string): Event[] {
  return db.query<EventRow, [string]>(FIND_EVENTS).all(id).map(eventFromRow);
}

/** The statements above, for query-plan tests. */
export const OPERATOR_QUERIES = { HEALTH_PAGE, HEALTH_COUNTS, RECENT_FAILURES, FIND_EVENTS };
