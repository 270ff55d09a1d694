/** @module The event type catalog on PostgreSQL. */
import type { EventType, Page } from "../../domain/model.ts";
import type { EventTypes } from "../../domain/ports.ts";
import { type EventTypeRow, eventTypePage, toEventType } from "../event-type-rows.ts";
import { guarded, type Sql } from "./client.ts";

export class PostgresEventTypes implements EventTypes {
  constructor(private readonly sql: Sql) {}

  async create(t: EventType): Promise<boolean> {
    const sql = this.sql;
    const result = await guarded(sql`
      INSERT INTO event_types (customer_id, name, description, schema, examples, created_at, updated_at)
      VALUES (${t.customerId}, ${t.name}, ${t.description}, ${t.schema === null ? null : sql.json(t.schema as never)}, ${sql.json(t.examples as never)}, ${t.createdAt}, ${t.updatedAt})
      ON CONFLICT DO NOTHING`);
    return result.count > 0;
  }

  async get(customerId: string, name: string): Promise<EventType | undefined> {
    const [row] = await guarded(this.sql<EventTypeRow[]>`SELECT * FROM event_types WHERE customer_id = ${customerId} AND name = ${name}`);
    return row ? toEventType(row) : undefined;
  }

  async list(customerId: string, limit: number, cursor = ""): Promise<Page<EventType>> {
    const rows = await guarded(this.sql<EventTypeRow[]>`SELECT * FROM event_types WHERE customer_id = ${customerId} AND name > ${cursor} ORDER BY name LIMIT ${limit + 1}`);
    return eventTypePage(rows, limit);
  }

  async update(t: EventType): Promise<boolean> {
    const sql = this.sql;
    const result = await guarded(sql`
      UPDATE event_types SET description = ${t.description}, schema = ${t.schema === null ? null : sql.json(t.schema as never)}, examples = ${sql.json(t.examples as never)}, updated_at = ${t.updatedAt}
      WHERE customer_id = ${t.customerId} AND name = ${t.name}`);
    return result.count > 0;
  }

  async all(limit: number): Promise<EventType[]> {
    return (await guarded(this.sql<EventTypeRow[]>`SELECT * FROM event_types ORDER BY customer_id, name LIMIT ${limit}`)).map(toEventType);
  }

  async delete(customerId: string, name: string): Promise<boolean> {
    const result = await guarded(this.sql`DELETE FROM event_types WHERE customer_id = ${customerId} AND name = ${name}`);
    return result.count > 0;
  }
}
