/** @module How resources look over the REST API (snake_case, ISO times). */

import { messageIdFor } from "../../domain/ids.ts";
import type { Attempt, Delivery, Event, EventType, OperationalEvent, RecoveryJob, Webhook } from "../../domain/model.ts";
import { publicKeyOf, schemeOf } from "../../domain/signature.ts";
import type { WebhookHealthView } from "../health/status.ts";

export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

/** A page as the API shows it: its items presented, and the cursor of the next. */
export const page = <T, U>(found: { data: T[]; nextCursor: string | null }, present: (item: T) => U) => ({ data: found.data.map(present), next_cursor: found.nextCursor });

/** A webhook as reads and changes show it: never its signing secret. */
export function presentWebhook(w: Webhook) {
  return {
    id: w.id,
    url: w.url,
    event_types: w.eventTypes,
    filter: w.filter,
    headers: w.headers,
    description: w.description,
    status: w.status,
    disabled_reason: w.disabledReason,
    permanent_failure_codes: w.permanentFailureCodes,
    rate_limit: w.rateLimit && { per_second: w.rateLimit.perSecond, burst: w.rateLimit.burst },
    max_in_flight: w.maxInFlight,
    ordering: w.ordering ? ("fifo" as const) : ("none" as const),
    ordering_key: w.ordering?.key ?? null,
    // Until then deliveries carry a signature made with the secret before the last rotation too.
    signature_scheme: schemeOf(w.secret),
    // Not a secret: what receivers of an Ed25519 webhook verify with.
    public_key: publicKeyOf(w.secret),
    previous_secret_expires_at: w.previousSecret && w.previousSecret.expiresAt > Date.now() ? new Date(w.previousSecret.expiresAt).toISOString() : null,
    created_at: w.createdAt,
    updated_at: w.updatedAt,
  };
}

/** Only for the answers of create and rotate-secret, which hand the new secret to its owner. */
export function presentWebhookWithSecret(w: Webhook) {
  return { ...presentWebhook(w), secret: w.secret };
}

export function presentDelivery(d: Delivery) {
  return {
    id: d.id,
    event_id: d.eventId,
    webhook_id: d.webhookId,
    status: d.status,
    attempt_count: d.attemptCount,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    next_attempt_at: isoOrNull(d.nextAttemptAt),
    created_at: iso(d.createdAt),
    updated_at: iso(d.updatedAt),
  };
}

export function presentAttempt(a: Attempt) {
  return {
    id: a.id,
    delivery_id: a.deliveryId,
    attempt_number: a.attemptNumber,
    status_code: a.statusCode,
    duration_ms: Math.round(a.durationMs * 1000) / 1000,
    error: a.error,
    response_body: a.responseBody,
    created_at: iso(a.createdAt),
  };
}

/** An event type of the catalog. */
export function presentEventType(e: EventType) {
  return { name: e.name, description: e.description, schema: e.schema, examples: e.examples, created_at: e.createdAt, updated_at: e.updatedAt };
}

/** An event in a list: no data (the event's own read has it). */
export function presentEventSummary(e: Event) {
  return { id: e.id, type: e.type, source: e.source, timestamp: e.timestamp, message_id: messageIdFor(e.customerId, e.id), accepted_at: iso(e.acceptedAt) };
}

export function presentEvent(e: Event) {
  return { ...JSON.parse(e.payload), message_id: messageIdFor(e.customerId, e.id), accepted_at: iso(e.acceptedAt) };
}

export function presentOperationalEvent(e: OperationalEvent) {
  return { id: e.id, type: e.type, webhook_id: e.webhookId, reason: e.reason, created_at: iso(e.createdAt) };
}

export function presentHealth({ webhook: w, state, activity }: WebhookHealthView) {
  const p = w.pause;
  return {
    webhook_id: w.id,
    state,
    disabled_reason: w.disabledReason,
    paused_since: p ? iso(p.since) : null,
    failing_since: p ? iso(p.failingSince) : null,
    consecutive_failures: p ? p.failures : 0,
    next_probe_at: p ? iso(p.probeAt) : null,
    current_backoff_ms: p ? p.probeIntervalMs : null,
    last_success_at: isoOrNull(activity.lastSuccessAt),
    last_failure_at: isoOrNull(activity.lastFailureAt),
    queued: activity.unfinished,
  };
}

/** A recovery job and its progress. */
export function presentJob(j: RecoveryJob) {
  return {
    id: j.id,
    kind: "recover" as const,
    webhook_id: j.webhookId,
    state: j.state,
    since: iso(j.params.since),
    until: isoOrNull(j.params.until),
    status: j.params.status,
    per_second: j.params.perSecond,
    matched: j.progress.matched,
    sent: j.progress.sent,
    succeeded: j.progress.succeeded,
    failed: j.progress.failed,
    created_at: iso(j.createdAt),
    finished_at: isoOrNull(j.finishedAt),
  };
}
