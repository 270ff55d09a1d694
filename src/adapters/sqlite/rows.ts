/** @module Row ⇄ domain mapping for the embedded database. */
import type { Pause, Webhook, WebhookStatus } from "../../domain/model.ts";
import { type EventRow as BaseEventRow, fromWebhookSettings, type PreviousSecretColumns, previousSecretColumns, previousSecretOf, webhookSettingsOf } from "../rows.ts";
import { type SecretBox, secretOwner } from "../secret-box.ts";

export { type AttemptRow, type DeliveryRow, eventFromRow, toAttempt, toDelivery } from "../rows.ts";

export interface WebhookRow extends PreviousSecretColumns {
  id: string;
  customer_id: string;
  url: string;
  event_types: string;
  headers: string;
  description: string | null;
  secret: string;
  status: string;
  disabled_reason: string | null;
  pause: string | null;
  resumed_at: number | string | null;
  settings: string;
  created_at: string;
  updated_at: string;
}

export interface EventRow extends BaseEventRow {
  seq: number;
}

export function toWebhook(row: WebhookRow, secrets: SecretBox): Webhook {
  return {
    id: row.id,
    customerId: row.customer_id,
    url: row.url,
    eventTypes: JSON.parse(row.event_types),
    headers: JSON.parse(row.headers),
    description: row.description,
    secret: secrets.open(row.secret, secretOwner(row.customer_id, row.id)),
    previousSecret: previousSecretOf(row, secrets),
    status: row.status as WebhookStatus,
    disabledReason: row.disabled_reason,
    ...fromWebhookSettings(row.settings),
    pause: row.pause === null ? null : (JSON.parse(row.pause) as Pause),
    resumedAt: row.resumed_at === null ? null : Number(row.resumed_at),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function webhookParams(w: Webhook, secrets: SecretBox) {
  return {
    id: w.id,
    customer_id: w.customerId,
    url: w.url,
    event_types: JSON.stringify(w.eventTypes),
    headers: JSON.stringify(w.headers),
    description: w.description,
    secret: secrets.seal(w.secret, secretOwner(w.customerId, w.id)),
    ...previousSecretColumns(w, secrets),
    status: w.status,
    disabled_reason: w.disabledReason,
    pause: w.pause === null ? null : JSON.stringify(w.pause),
    resumed_at: w.resumedAt,
    settings: JSON.stringify(webhookSettingsOf(w)),
    created_at: w.createdAt,
    updated_at: w.updatedAt,
  };
}
