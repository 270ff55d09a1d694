/** @module The event type catalog on embedded SQLite. */
import type { Database } from "bun:sqlite";
import type { EventType, Page } from "../../domain/model.ts";
import type { EventTypes } from "../../domain/ports.ts";
import { type EventTypeRow, eventTypePage, toEventType } from "../event-type-rows.ts";

const params = (t: EventType) => ({
  customer: t.customerId,
  name: t.name,
  description: t.description,
  schema: t.schema === null ? null : JSON.stringify(t.schema),
  examples: JSON.stringify(t.examples),
  created: t.createdAt,
  updated: t.updatedAt,
});

export class SqliteEventTypes implements EventTypes {
  constructor(private readonly db: Database) {}

  async create(t: EventType): Promise<boolean> {
    return (
      this.db
        .query(
          `INSERT INTO event_types (customer_id, name, description, schema, examples, created_at, updated_at)
           VALUES ($customer, $name, $description, $schema, $examples, $created, $updated) ON CONFLICT DO NOTHING`,
        )
        .run(params(t)).changes > 0
    );
  }

  async get(customerId: string, name: string): Promise<EventType | undefined> {
    const row = this.db.query<EventTypeRow, [string, string]>("SELECT * FROM event_types WHERE customer_id = ? AND name = ?").get(customerId, name);
    return row ? toEventType(row) : undefined;
  }

  async list(customerId: string, limit: number, cursor = ""): Promise<Page<EventType>> {
    const rows = this.db.query<EventTypeRow, [string, string, number]>("SELECT * FROM event_types WHERE customer_id = ? AND name > ? ORDER BY name LIMIT ?").all(customerId, cursor, limit + 1);
    return eventTypePage(rows, limit);
  }

  async update(t: EventType): Promise<boolean> {
    return (
      this.db.query("UPDATE event_types SET description = $description, schema = $schema, examples = $examples, updated_at = $updated WHERE customer_id = $customer AND name = $name").run(params(t))
        .changes > 0
    );
  }

  async all(limit: number): Promise<EventType[]> {
    return this.db.query<EventTypeRow, [number]>("SELECT * FROM event_types ORDER BY customer_id, name LIMIT ?").all(limit).map(toEventType);
  }

  async delete(customerId: string, name: string): Promise<boolean> {
    return this.db.run("DELETE FROM event_types WHERE customer_id = ? AND name = ?", [customerId, name]).changes > 0;
  }
}
