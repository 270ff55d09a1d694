/**
 * @module The delivery hot paths on PostgreSQL, each one statement whatever the batch size:
 * opening deliveries for a batch of events, recording a batch of attempts, pruning old ones.
 * Rows travel as one array per column (`unnest`), so the statement text, and with it the
 * prepared statement, stays the same for every batch size and the 65,535-parameter limit never applies.
 */

import { deliveryIdFor } from "../../domain/ids.ts";
import type { Delivery, Event } from "../../domain/model.ts";
import { orderKeyOf } from "../../domain/ordering.ts";
import type { AttemptRecord, FanOut } from "../../domain/ports.ts";
import type { Sql } from "./client.ts";
import { type DeliveryRow, eventsTable, toDelivery } from "./rows.ts";

const SEP = "\u0000";

/**
 * One statement inserts the events the table lacks (already published: they came from the
 * log) and the missing deliveries, and returns the new and the already stored deliveries.
 * A pair inserted by a concurrent transaction that committed after this statement's snapshot
 * is in neither half; a second SELECT fetches those, which is rare.
 */
export async function openDeliveries(sql: Sql, items: FanOut[], now: number, dueAt: number): Promise<Delivery[][]> {
  const pairs = new Map<string, [customerId: string, eventId: string, webhookId: string, id: string, fifoKey: string | null]>();
  for (const { event, webhooks } of items)
    for (const webhook of webhooks)
      pairs.set(pairKey(event.customerId, event.id, webhook.id), [
        event.customerId,
        event.id,
        webhook.id,
        deliveryIdFor(event.customerId, event.id, webhook.id, event.acceptedAt),
        webhook.ordering ? orderKeyOf(webhook, event) : null,
      ]);
  if (pairs.size === 0) return items.map(() => []);

  // The same order in every transaction, so two batches sharing rows wait for each other instead of deadlocking.
  const rows = [...pairs.keys()].sort().map((key) => pairs.get(key)!);
  const found = await sql<DeliveryRow[]>`
    WITH ev AS (${insertMissingEvents(sql, eventsWithTargets(items))}), pairs AS (
      SELECT * FROM unnest(${rows.map((r) => r[3])}::text[], ${rows.map((r) => r[0])}::text[], ${rows.map((r) => r[1])}::text[], ${rows.map((r) => r[2])}::text[], ${rows.map((r) => r[4])}::text[])
        AS p(id, customer_id, event_id, webhook_id, fifo_key)
    ), opened AS (
      -- An ordered webhook's delivery keeps its queue and its event's place in the log (null: the event came with this statement).
      INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, next_attempt_at, created_at, updated_at, fifo_key, fifo_seq)
      SELECT id, customer_id, event_id, webhook_id, 'pending', ${dueAt}::bigint, ${now}::bigint, ${now}::bigint, fifo_key,
        CASE WHEN fifo_key IS NULL THEN NULL ELSE (SELECT e.seq FROM events e WHERE e.customer_id = pairs.customer_id AND e.id = pairs.event_id) END
      FROM pairs
      ON CONFLICT (customer_id, event_id, webhook_id) DO NOTHING
      RETURNING *
    )
    SELECT * FROM opened
    UNION ALL
    SELECT d.* FROM deliveries d JOIN pairs p USING (customer_id, event_id, webhook_id)`;

  const byKey = new Map<string, Delivery>();
  for (const row of found) byKey.set(pairKey(row.customer_id, row.event_id, row.webhook_id), toDelivery(row));
  const missing = rows.filter(([c, e, w]) => !byKey.has(pairKey(c, e, w)));
  if (missing.length > 0) {
    const late = await sql<DeliveryRow[]>`
      SELECT d.* FROM deliveries d
      JOIN unnest(${missing.map((r) => r[0])}::text[], ${missing.map((r) => r[1])}::text[], ${missing.map((r) => r[2])}::text[])
        AS p(customer_id, event_id, webhook_id) USING (customer_id, event_id, webhook_id)`;
    for (const row of late) byKey.set(pairKey(row.customer_id, row.event_id, row.webhook_id), toDelivery(row));
  }
  return items.map(({ event, webhooks }) =>
    webhooks.map((webhook) => {
      const delivery = byKey.get(pairKey(event.customerId, event.id, webhook.id));
      if (!delivery) throw new Error(`delivery of event '${event.id}' to webhook '${webhook.id}' was neither opened nor found`);
      return delivery;
    }),
  );
}

/**
 * Inserts the events the table lacks (already published: they came from the log) and returns the
 * deliveries already stored for them (one list per item), in one statement.
 */
export async function saveEventsAndFindDeliveries(sql: Sql, items: FanOut[]): Promise<Delivery[][]> {
  const evs = eventsWithTargets(items);
  if (evs.length === 0) return items.map(() => []);
  const found = await sql<DeliveryRow[]>`
    WITH ev AS (${insertMissingEvents(sql, evs)})
    SELECT d.* FROM deliveries d
    JOIN unnest(${evs.map((e) => e.customerId)}::text[], ${evs.map((e) => e.id)}::text[]) AS p(customer_id, event_id) USING (customer_id, event_id)`;
  const byEvent = new Map<string, Delivery[]>();
  for (const row of found) {
    const key = row.customer_id + SEP + row.event_id;
    const list = byEvent.get(key) ?? [];
    list.push(toDelivery(row));
    byEvent.set(key, list);
  }
  return items.map(({ event, webhooks }) => (webhooks.length === 0 ? [] : (byEvent.get(event.customerId + SEP + event.id) ?? [])));
}

/** The distinct events of `items` that have webhooks, in one order for every transaction. */
function eventsWithTargets(items: FanOut[]): Event[] {
  const events = new Map<string, Event>();
  for (const { event, webhooks } of items) if (webhooks.length > 0) events.set(event.customerId + SEP + event.id, event);
  return [...events.keys()].sort().map((key) => events.get(key)!);
}

/** Inserts the events the table lacks (already published: they came from the log), as a statement to put in a WITH. */
function insertMissingEvents(sql: Sql, events: Event[]) {
  return sql`
    INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
    SELECT c, i, t, s, ts, p, a, a FROM ${eventsTable(sql, events)}
    ON CONFLICT (customer_id, id) DO NOTHING`;
}

function pairKey(customerId: string, eventId: string, webhookId: string): string {
  return customerId + SEP + eventId + SEP + webhookId;
}

/**
 * One statement: a multi-row insert of the attempts (idempotent: any conflict does nothing, so a
 * retried write after a lost acknowledgement is harmless) and one upsert of their deliveries.
 * Several attempts of one delivery in a batch: the last one written sets the state, as if they
 * were applied in order, and the attempt count never goes down. An attempt refused because another
 * of its delivery has its number (two sends raced) is written again under the next free number.
 */
export async function writeAttempts(sql: Sql, records: AttemptRecord[]): Promise<void> {
  if (records.length === 0) return;
  // Per delivery, the newest attempt in the batch decides its state.
  const latest = new Map<string, { record: AttemptRecord; count: number }>();
  for (const record of records) {
    const before = latest.get(record.attempt.deliveryId);
    if (!before || record.attempt.attemptNumber > before.count || (record.attempt.attemptNumber === before.count && record.attempt.createdAt >= before.record.attempt.createdAt))
      latest.set(record.attempt.deliveryId, { record, count: record.attempt.attemptNumber });
  }
  const updates = [...latest.keys()].sort().map((id) => latest.get(id)!);
  const d = updates.map((u) => u.record.delivery);
  const a = records.map((r) => r.attempt);
  const inserted = await sql<{ id: string }[]>`
    WITH inserted AS (
      INSERT INTO attempts (id, delivery_id, customer_id, attempt_number, status_code, duration_ms, error, response_body, created_at, next_attempt_at)
      SELECT * FROM unnest(${a.map((x) => x.id)}::text[], ${a.map((x) => x.deliveryId)}::text[], ${a.map((x) => x.customerId)}::text[],
                           ${a.map((x) => x.attemptNumber)}::int[], ${a.map((x) => x.statusCode)}::int[],
                           ${a.map((x) => Math.round(x.durationMs * 1000) / 1000)}::float8[], ${a.map((x) => x.error)}::text[],
                           ${a.map((x) => x.responseBody)}::text[], ${a.map((x) => x.createdAt)}::bigint[],
                           ${records.map((r) => r.nextAttemptAt)}::bigint[])
      ON CONFLICT DO NOTHING
      RETURNING id
    ), upserted AS (
      -- A delivery sent straight from the log has no row yet: its first outcome creates it.
      INSERT INTO deliveries AS d (id, customer_id, event_id, webhook_id, status, attempt_count, round_start, last_status_code,
                                   last_error, next_attempt_at, created_at, updated_at)
      SELECT * FROM unnest(${d.map((x) => x.id)}::text[], ${d.map((x) => x.customerId)}::text[], ${d.map((x) => x.eventId)}::text[],
                           ${d.map((x) => x.webhookId)}::text[], ${updates.map((u) => u.record.status)}::text[],
                           ${updates.map((u) => u.count)}::int[], ${d.map((x) => x.roundStart)}::int[],
                           ${updates.map((u) => u.record.attempt.statusCode)}::int[], ${updates.map((u) => u.record.attempt.error)}::text[],
                           ${updates.map((u) => u.record.nextAttemptAt)}::bigint[], ${d.map((x) => x.createdAt)}::bigint[],
                           ${updates.map((u) => u.record.attempt.createdAt)}::bigint[])
      ON CONFLICT (id) DO UPDATE SET
        status = EXCLUDED.status,
        attempt_count = EXCLUDED.attempt_count,
        last_status_code = EXCLUDED.last_status_code,
        last_error = EXCLUDED.last_error,
        next_attempt_at = EXCLUDED.next_attempt_at,
        updated_at = EXCLUDED.updated_at
      -- An attempt older than the one already recorded (a late write) must not undo its outcome;
      -- two attempts with one number (the first's record was late when the retry read the count): the later one wins.
      WHERE d.attempt_count < EXCLUDED.attempt_count OR (d.attempt_count = EXCLUDED.attempt_count AND d.updated_at <= EXCLUDED.updated_at)
    )
    SELECT id FROM inserted`;
  if (inserted.length < records.length) await renumberRaced(sql, records, new Set(inserted.map((row) => row.id)));
}

/** The attempts of `records` neither just inserted nor stored before: each under its delivery's next free number. */
async function renumberRaced(sql: Sql, records: AttemptRecord[], inserted: Set<string>): Promise<void> {
  const candidates = records.filter((r) => !inserted.has(r.attempt.id));
  const known = new Set((await sql<{ id: string }[]>`SELECT id FROM attempts WHERE id = ANY(${candidates.map((r) => r.attempt.id)}::text[])`).map((row) => row.id));
  for (const { attempt: x, nextAttemptAt } of candidates.filter((r) => !known.has(r.attempt.id))) {
    await sql`
      WITH placed AS (
        INSERT INTO attempts (id, delivery_id, customer_id, attempt_number, status_code, duration_ms, error, response_body, created_at, next_attempt_at)
        SELECT ${x.id}, ${x.deliveryId}, ${x.customerId}, coalesce(max(attempt_number), 0) + 1, ${x.statusCode}::int,
               ${Math.round(x.durationMs * 1000) / 1000}::float8, ${x.error}::text, ${x.responseBody}::text, ${x.createdAt}::bigint, ${nextAttemptAt}::bigint
        FROM attempts WHERE delivery_id = ${x.deliveryId}
        ON CONFLICT DO NOTHING
        RETURNING attempt_number
      )
      UPDATE deliveries SET attempt_count = placed.attempt_number FROM placed
      WHERE id = ${x.deliveryId} AND attempt_count < placed.attempt_number`;
  }
}

/**
 * Deletes up to `limit` finished (succeeded or dead) deliveries last changed before `before`,
 * their attempts and replays, the events they leave without any delivery, and up to `limit` old events
 * that never had one (only published ones: an unpublished event is still on its way to Kafka).
 * Returns how many deliveries were removed. Rows locked by a running write are skipped.
 */
export async function pruneFinished(sql: Sql, before: number, limit: number): Promise<number> {
  const [row] = await sql<{ n: number }[]>`
    WITH victims AS (
      SELECT id FROM deliveries
      WHERE status IN ('succeeded', 'dead') AND updated_at < ${before}::bigint
      ORDER BY updated_at
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), gone_attempts AS (
      DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM victims)
    ), gone_replays AS (
      DELETE FROM replays WHERE delivery_id IN (SELECT id FROM victims)
    ), gone AS (
      DELETE FROM deliveries WHERE id IN (SELECT id FROM victims)
      RETURNING id, customer_id, event_id
    ), emptied AS (
      DELETE FROM events e
      USING (SELECT DISTINCT customer_id, event_id FROM gone) g
      WHERE e.customer_id = g.customer_id AND e.id = g.event_id AND e.accepted_at < ${before}::bigint
        AND NOT EXISTS (
          SELECT 1 FROM deliveries d
          WHERE d.customer_id = e.customer_id AND d.event_id = e.id AND d.id NOT IN (SELECT id FROM gone)
        )
    ), orphans AS (
      DELETE FROM events e
      WHERE (e.customer_id, e.id) IN (
        SELECT o.customer_id, o.id FROM events o
        WHERE o.accepted_at < ${before}::bigint AND o.published_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.customer_id = o.customer_id AND d.event_id = o.id)
        LIMIT ${limit}
      )
    )
    SELECT count(*)::int AS n FROM gone`;
  return row?.n ?? 0;
}
