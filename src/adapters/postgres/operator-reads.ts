/**
 * @module The operator's reads over every customer on PostgreSQL: webhook health, recent failures,
 * and an event id looked up under every customer. Each is one statement that reads through an
 * index: the failing rows, the listed webhooks' index entries, one seek per customer; never a
 * whole table of deliveries or events.
 */
import type { Delivery, Event } from "../../domain/model.ts";
import type { WebhookHealth } from "../../domain/ports.ts";
import { type FailureRow, toCounts, toLastFailure } from "../rows.ts";
import type { SecretBox } from "../secret-box.ts";
import type { Sql } from "./client.ts";
import { type DeliveryRow, type EventRow, eventFromRow, toDelivery, toWebhook, type WebhookRow } from "./rows.ts";

type HealthRow = WebhookRow & { failure: FailureRow | null; counts: { status: string; n: number }[] | null };

/**
 * Every webhook with its delivery counts and last failure, in one statement (one snapshot) whatever
 * the number of webhooks. The failing rows come from the partial index of migration 0003 (its
 * predicate is the query's), the counts per webhook from deliveries_by_webhook_status (webhook_id, status, id).
 */
export async function webhookHealth(sql: Sql, secrets: SecretBox, limit: number): Promise<WebhookHealth[]> {
  const rows = await sql<HealthRow[]>`
    WITH failing AS (
      SELECT DISTINCT ON (webhook_id) webhook_id, id, event_id, status, last_status_code, last_error, updated_at
      FROM deliveries WHERE status IN ('failed', 'dead')
      ORDER BY webhook_id, updated_at DESC, id DESC
    ), page AS (
      SELECT w.*, to_jsonb(f) - 'webhook_id' AS failure
      FROM webhooks w LEFT JOIN failing f ON f.webhook_id = w.id
      ORDER BY f.webhook_id IS NULL, w.customer_id, w.id
      LIMIT ${limit}
    ), counts AS (
      SELECT webhook_id, status, count(*)::int AS n FROM deliveries
      WHERE webhook_id IN (SELECT id FROM page)
      GROUP BY webhook_id, status
    )
    SELECT p.*, (SELECT jsonb_agg(jsonb_build_object('status', c.status, 'n', c.n)) FROM counts c WHERE c.webhook_id = p.id) AS counts
    FROM page p
    ORDER BY p.failure IS NULL, p.customer_id, p.id`;
  return rows.map((row) => ({ webhook: toWebhook(row, secrets), counts: toCounts(row.counts ?? []), lastFailure: toLastFailure(row.failure) }));
}

/** Newest first, read backwards along the partial index: failing rows only, and no sort. */
export async function recentFailures(sql: Sql, limit: number): Promise<Delivery[]> {
  const rows = await sql<DeliveryRow[]>`
    SELECT * FROM deliveries WHERE status IN ('failed', 'dead') ORDER BY updated_at DESC LIMIT ${limit}`;
  return rows.map(toDelivery);
}

/**
 * The events table holds every event here too (ingest's outbox rows, and those storedDeliveries and
 * openDeliveries insert), keyed (customer_id, id). Its customers are walked along that primary key,
 * one seek to the next customer_id after another (a loose index scan), and each is probed for the id:
 * one seek per customer instead of a scan, and with no index on id alone to slow ingest. It finds
 * every customer that has events, including those the customers table does not know (a customer
 * named only by an external issuer's token claim); the table of customers would miss them.
 */
export async function findEvents(sql: Sql, id: string): Promise<Event[]> {
  const rows = await sql<EventRow[]>`
    WITH RECURSIVE owners(customer_id) AS (
      SELECT min(customer_id) FROM events
      UNION ALL
      SELECT (SELECT min(e.customer_id) FROM events e WHERE e.customer_id > o.customer_id) FROM owners o WHERE o.customer_id IS NOT NULL
    )
    SELECT e.* FROM owners o JOIN events e ON e.customer_id = o.customer_id AND e.id = ${id}
    ORDER BY e.customer_id`;
  return rows.map(eventFromRow);
}
