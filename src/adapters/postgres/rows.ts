/** @module Row ⇄ domain mapping for PostgreSQL (BIGINT read as numbers, JSONB already parsed). */
import type { Event, Pause, User, Webhook, WebhookStatus } from "../../domain/model.ts";
import { type EventRow as BaseEventRow, fromWebhookSettings, type PreviousSecretColumns, previousSecretOf, type WebhookSettings } from "../rows.ts";
import { type SecretBox, secretOwner } from "../secret-box.ts";
import type { Sql } from "./client.ts";

export { type AttemptRow, type DeliveryRow, eventFromRow, toAttempt, toDelivery } from "../rows.ts";

export interface WebhookRow extends PreviousSecretColumns {
  id: string;
  customer_id: string;
  url: string;
  event_types: string[];
  headers: Record<string, string>;
  description: string | null;
  secret: string;
  status: string;
  disabled_reason: string | null;
  pause: Pause | null;
  resumed_at: number | string | null;
  settings: WebhookSettings;
  created_at: string;
  updated_at: string;
}

export interface UserRow {
  username: string;
  customer_id: string;
  password_hash: string;
  scopes: string[];
}

export interface EventRow extends BaseEventRow {
  published_at: number | null;
}

export function toWebhook(row: WebhookRow, secrets: SecretBox): Webhook {
  return {
    id: row.id,
    customerId: row.customer_id,
    url: row.url,
    eventTypes: row.event_types,
    headers: row.headers,
    description: row.description,
    secret: secrets.open(row.secret, secretOwner(row.customer_id, row.id)),
    previousSecret: previousSecretOf(row, secrets),
    status: row.status as WebhookStatus,
    disabledReason: row.disabled_reason,
    ...fromWebhookSettings(row.settings),
    pause: row.pause,
    resumedAt: row.resumed_at === null ? null : Number(row.resumed_at),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toUser(row: UserRow): User {
  return { username: row.username, customerId: row.customer_id, passwordHash: row.password_hash, scopes: row.scopes };
}

/** Events as a table for one INSERT ... SELECT: `unnest(...) AS e(c, i, t, s, ts, p, a)`. */
export function eventsTable(sql: Sql, events: Event[]) {
  return sql`unnest(${events.map((e) => e.customerId)}::text[], ${events.map((e) => e.id)}::text[], ${events.map((e) => e.type)}::text[],
                    ${events.map((e) => e.source)}::text[], ${events.map((e) => e.timestamp)}::text[], ${events.map((e) => e.payload)}::text[],
                    ${events.map((e) => e.acceptedAt)}::bigint[]) AS e(c, i, t, s, ts, p, a)`;
}
