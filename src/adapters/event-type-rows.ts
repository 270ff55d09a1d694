/** @module An event type of the catalog as both stores keep it: schema and examples as JSON (text in SQLite, JSONB in PostgreSQL). */
import type { EventType, Page } from "../domain/model.ts";
import { parsedJson } from "./rows.ts";

export interface EventTypeRow {
  customer_id: string;
  name: string;
  description: string;
  schema: string | Record<string, unknown> | null;
  examples: string | unknown[];
  created_at: string;
  updated_at: string;
}

export function toEventType(row: EventTypeRow): EventType {
  return {
    customerId: row.customer_id,
    name: row.name,
    description: row.description,
    schema: row.schema === null ? null : parsedJson<Record<string, unknown>>(row.schema),
    examples: parsedJson<unknown[]>(row.examples),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

/** A page of event types by name from `limit + 1` rows: the last name is the next page's cursor. */
export function eventTypePage(rows: EventTypeRow[], limit: number): Page<EventType> {
  const data = rows.slice(0, limit).map(toEventType);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.name : null };
}
