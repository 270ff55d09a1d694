/** @module Row ⇄ domain mapping for PostgreSQL (BIGINT read as numbers, JSONB already parsed). */
import type { Attempt, Delivery, DeliveryStatus, Event, User, Webhook, WebhookStatus } from "../../domain/model.ts";

export interface WebhookRow {
  id: string;
  customer_id: string;
  url: string;
  event_types: string[];
  headers: Record<string, string>;
  description: string | null;
  secret: string;
  status: string;
  created_at: string;
  updated_at: string;
}

export interface UserRow {
  username: string;
  customer_id: string;
  password_hash: string;
  scopes: string[];
}

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
}

export interface EventRow {
  customer_id: string;
  id: string;
  type: string;
  source: string;
  timestamp: string;
  payload: string;
  accepted_at: number;
  published_at: number | null;
}

export function toWebhook(row: WebhookRow): Webhook {
  return {
    id: row.id,
    customerId: row.customer_id,
    url: row.url,
    eventTypes: row.event_types,
    headers: row.headers,
    description: row.description,
    secret: row.secret,
    status: row.status as WebhookStatus,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function toUser(row: UserRow): User {
  return { username: row.username, customerId: row.customer_id, passwordHash: row.password_hash, scopes: row.scopes };
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
  };
}

export function toEvent(row: EventRow): Event {
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
