/**
 * @module The Kafka outbox in PostgreSQL's events table: ingest stores an event here (which
 * also answers "seen before?") before producing it, and marks it published once Kafka has it.
 */
import type { Event } from "../../domain/model.ts";
import type { AppendOutcome } from "../../domain/ports.ts";
import type { EventOutbox } from "../kafka/event-log.ts";
import { guarded, pingPostgres, type Sql } from "./client.ts";
import { type EventRow, eventFromRow, eventsTable } from "./rows.ts";

export class PostgresOutbox implements EventOutbox {
  constructor(private readonly sql: Sql) {}

  ping(): Promise<void> {
    return guarded(pingPostgres(this.sql));
  }

  async record(events: Event[]): Promise<AppendOutcome[]> {
    if (events.length === 0) return [];
    const inserted = await guarded(this.sql<{ customer_id: string; id: string }[]>`
      INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
      SELECT c, i, t, s, ts, p, a, NULL FROM ${eventsTable(this.sql, events)}
      ON CONFLICT (customer_id, id) DO NOTHING
      RETURNING customer_id, id`);
    const fresh = new Set(inserted.map((r) => `${r.customer_id}\u0000${r.id}`));
    // Within one call the first of two equal events is the accepted one, the second a duplicate.
    const seen = new Set<string>();
    return events.map((e) => {
      const key = `${e.customerId}\u0000${e.id}`;
      const accepted = fresh.has(key) && !seen.has(key);
      seen.add(key);
      return accepted ? "accepted" : "duplicate";
    });
  }

  async markPublished(events: Event[]): Promise<void> {
    if (events.length === 0) return;
    await guarded(this.sql`
      UPDATE events SET published_at = ${Date.now()}::bigint
      FROM unnest(${events.map((e) => e.customerId)}::text[], ${events.map((e) => e.id)}::text[]) AS k(c, i)
      WHERE events.customer_id = k.c AND events.id = k.i AND events.published_at IS NULL`);
  }

  async unpublished(before: number, limit: number): Promise<Event[]> {
    const rows = await guarded(this.sql<EventRow[]>`
      SELECT * FROM events WHERE published_at IS NULL AND accepted_at < ${before}::bigint
      ORDER BY accepted_at LIMIT ${limit}`);
    return rows.map(eventFromRow);
  }
}
