/** @module Row ⇄ domain mapping shared by the SQL adapters: deliveries, attempts and events have the same columns in both. */
import type { Filter } from "../domain/filter.ts";
import type { ApiKey, Attempt, Customer, Delivery, DeliveryStatus, Event, OperationalEvent, OperationalEventType, Page, Webhook } from "../domain/model.ts";
import type { DeliveryCounts, WebhookHealth } from "../domain/ports.ts";
import { type SecretBox, secretOwner } from "./secret-box.ts";

export interface DeliveryRow {
  id: string;
  customer_id: string;
  event_id: string;
  webhook_id: string;
  status: string;
  attempt_count: number;
  round_start: number;
  last_status_code: number | null;
  last_error: string | null;
  next_attempt_at: number | null;
  created_at: number;
  updated_at: number;
  fifo_key?: string | null;
}

export interface AttemptRow {
  id: string;
  delivery_id: string;
  customer_id: string;
  attempt_number: number;
  status_code: number | null;
  duration_ms: number;
  error: string | null;
  response_body: string | null;
  created_at: number;
  next_attempt_at: number | null;
}

export interface EventRow {
  customer_id: string;
  id: string;
  type: string;
  source: string;
  timestamp: string;
  payload: string;
  accepted_at: number;
}

export function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    customerId: row.customer_id,
    eventId: row.event_id,
    webhookId: row.webhook_id,
    status: row.status as DeliveryStatus,
    attemptCount: row.attempt_count,
    roundStart: row.round_start,
    lastStatusCode: row.last_status_code,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    fifoKey: row.fifo_key ?? null,
  };
}

export function toAttempt(row: AttemptRow): Attempt {
  return {
    id: row.id,
    deliveryId: row.delivery_id,
    customerId: row.customer_id,
    attemptNumber: row.attempt_number,
    statusCode: row.status_code,
    durationMs: row.duration_ms,
    error: row.error,
    responseBody: row.response_body,
    createdAt: row.created_at,
    nextAttemptAt: row.next_attempt_at ?? null,
  };
}

export function eventFromRow(row: EventRow): Event {
  return {
    customerId: row.customer_id,
    id: row.id,
    type: row.type,
    source: row.source,
    timestamp: row.timestamp,
    payload: row.payload,
    acceptedAt: row.accepted_at,
  };
}

/** `status, count(*) AS n ... GROUP BY status` rows as counts; a status with no row counts 0. */
export function toCounts(rows: Iterable<{ status: string; n: number }>): DeliveryCounts {
  const counts: DeliveryCounts = { pending: 0, succeeded: 0, failed: 0, dead: 0 };
  for (const row of rows) if (row.status in counts) counts[row.status as keyof DeliveryCounts] = Number(row.n);
  return counts;
}

/** A webhook's last failed or dead delivery, as the health query selects it. */
export interface FailureRow {
  id: string;
  event_id: string;
  status: string;
  last_status_code: number | null;
  last_error: string | null;
  updated_at: number;
}

/** JSON text (SQLite) or already parsed (PostgreSQL JSONB); null when the webhook has no failure. */
export function toLastFailure(failure: FailureRow | string | null): WebhookHealth["lastFailure"] {
  const row: FailureRow | null = typeof failure === "string" ? JSON.parse(failure) : failure;
  if (!row) return null;
  return {
    deliveryId: row.id,
    eventId: row.event_id,
    status: row.status as "failed" | "dead",
    statusCode: row.last_status_code,
    error: row.last_error,
    at: Number(row.updated_at),
  };
}

/** Rows were fetched with limit + 1: the extra one says whether there is a next page. */
export function page<T extends { id: string }>(rows: T[], limit: number): Page<T> {
  const data = rows.slice(0, limit);
  return { data, nextCursor: rows.length > limit ? data[data.length - 1]!.id : null };
}

export interface CustomerRow {
  id: string;
  name: string;
  created_at: number | string;
}

export function toCustomer(row: CustomerRow): Customer {
  return { id: row.id, name: row.name, createdAt: Number(row.created_at) };
}

export interface ApiKeyRow {
  id: string;
  customer_id: string;
  name: string;
  prefix: string;
  hash: string;
  /** JSON text (SQLite) or already parsed (PostgreSQL JSONB). */
  scopes: string | string[];
  created_at: number | string;
  expires_at: number | string | null;
  revoked_at: number | string | null;
}

export function toApiKey(row: ApiKeyRow): ApiKey {
  const time = (v: number | string | null) => (v === null ? null : Number(v));
  return {
    id: row.id,
    customerId: row.customer_id,
    name: row.name,
    prefix: row.prefix,
    hash: row.hash,
    scopes: typeof row.scopes === "string" ? JSON.parse(row.scopes) : row.scopes,
    createdAt: Number(row.created_at),
    expiresAt: time(row.expires_at),
    revokedAt: time(row.revoked_at),
  };
}

/** A webhook's `settings` column (JSON): delivery settings added to it need no migration. */
export interface WebhookSettings {
  permanent_failure_codes?: number[];
  rate_limit?: { per_second: number; burst: number };
  max_in_flight?: number;
  ordering?: { key: string | null; since_seq: number };
  filter?: Filter;
}

export function webhookSettingsOf(w: Webhook): WebhookSettings {
  const settings: WebhookSettings = {};
  if (w.permanentFailureCodes.length > 0) settings.permanent_failure_codes = w.permanentFailureCodes;
  if (w.rateLimit) settings.rate_limit = { per_second: w.rateLimit.perSecond, burst: w.rateLimit.burst };
  if (w.maxInFlight !== null) settings.max_in_flight = w.maxInFlight;
  if (w.ordering) settings.ordering = { key: w.ordering.key, since_seq: w.ordering.sinceSeq };
  if (w.filter) settings.filter = w.filter;
  return settings;
}

/** The webhook fields its `settings` column holds: text (SQLite) or already parsed (PostgreSQL JSONB). */
export function fromWebhookSettings(settings: WebhookSettings | string | null): Pick<Webhook, "permanentFailureCodes" | "rateLimit" | "maxInFlight" | "ordering" | "filter"> {
  const s: WebhookSettings = typeof settings === "string" ? JSON.parse(settings) : (settings ?? {});
  return {
    permanentFailureCodes: s.permanent_failure_codes ?? [],
    rateLimit: s.rate_limit ? { perSecond: s.rate_limit.per_second, burst: s.rate_limit.burst } : null,
    maxInFlight: s.max_in_flight ?? null,
    ordering: s.ordering ? { key: s.ordering.key, sinceSeq: Number(s.ordering.since_seq) } : null,
    filter: s.filter ?? null,
  };
}

export interface OperationalEventRow {
  id: string;
  customer_id: string;
  webhook_id: string;
  type: string;
  reason: string;
  created_at: number | string;
}

export function toOperationalEvent(row: OperationalEventRow): OperationalEvent {
  return { id: row.id, customerId: row.customer_id, webhookId: row.webhook_id, type: row.type as OperationalEventType, reason: row.reason, createdAt: Number(row.created_at) };
}

/** A webhook row's previous secret (sealed at rest like its secret), as both stores keep it. */
export interface PreviousSecretColumns {
  previous_secret: string | null;
  previous_secret_expires_at: number | string | null;
}

export function previousSecretOf(row: PreviousSecretColumns & { customer_id: string; id: string }, secrets: SecretBox): Webhook["previousSecret"] {
  if (row.previous_secret === null || row.previous_secret_expires_at === null) return null;
  return { secret: secrets.open(row.previous_secret, secretOwner(row.customer_id, row.id)), expiresAt: Number(row.previous_secret_expires_at) };
}

export function previousSecretColumns(w: Webhook, secrets: SecretBox): PreviousSecretColumns {
  if (!w.previousSecret) return { previous_secret: null, previous_secret_expires_at: null };
  return { previous_secret: secrets.seal(w.previousSecret.secret, secretOwner(w.customerId, w.id)), previous_secret_expires_at: w.previousSecret.expiresAt };
}

/** A JSON column as read: text in SQLite (parsed here), already parsed from PostgreSQL's JSONB. */
export const parsedJson = <T>(value: string | T): T => (typeof value === "string" ? (JSON.parse(value) as T) : value);
