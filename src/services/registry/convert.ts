/**
 * @module Registry messages to and from the domain: webhooks as protobuf messages, and
 * requests as the same raw input the REST API hands to `webhooks/manage.ts`.
 */
import { create, type JsonObject } from "@bufbuild/protobuf";
import { type FieldMask, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ValidationError } from "../../domain/errors.ts";
import type { Webhook } from "../../domain/model.ts";
import { publicKeyOf, type SignatureScheme, schemeOf } from "../../domain/signature.ts";
import { type RateLimit, RateLimitSchema, type Webhook as WebhookMessage, WebhookOrdering, WebhookSchema, WebhookSignatureScheme, WebhookStatus } from "../../gen/hookrelay/webhook/v1/registry_pb.ts";
import type { WebhookPatch } from "../webhooks/manage.ts";

/**
 * A stored webhook as its message. The signing secret is left empty unless `withSecret` (the
 * answers of CreateWebhook and RotateSecret): reads and updates never show it.
 */
export function webhookMessage(w: Webhook, withSecret = false): WebhookMessage {
  return create(WebhookSchema, {
    id: w.id,
    url: w.url,
    eventTypes: w.eventTypes,
    filter: (w.filter as JsonObject | null) ?? undefined,
    headers: w.headers,
    description: w.description ?? undefined,
    secret: withSecret ? w.secret : "",
    status: w.status === "active" ? WebhookStatus.ACTIVE : WebhookStatus.DISABLED,
    createTime: timestampFromDate(new Date(w.createdAt)),
    updateTime: timestampFromDate(new Date(w.updatedAt)),
    disabledReason: w.disabledReason ?? undefined,
    permanentFailureCodes: w.permanentFailureCodes,
    rateLimit: w.rateLimit ? create(RateLimitSchema, { perSecond: w.rateLimit.perSecond, burst: w.rateLimit.burst }) : undefined,
    maxInFlight: w.maxInFlight ?? undefined,
    ordering: w.ordering ? WebhookOrdering.FIFO : WebhookOrdering.NONE,
    orderingKey: w.ordering?.key ?? undefined,
    signatureScheme: schemeOf(w.secret) === "ed25519" ? WebhookSignatureScheme.ED25519 : WebhookSignatureScheme.HMAC_SHA256,
    publicKey: publicKeyOf(w.secret) ?? undefined,
    previousSecretExpireTime: w.previousSecret && w.previousSecret.expiresAt > Date.now() ? timestampFromDate(new Date(w.previousSecret.expiresAt)) : undefined,
  });
}

/** A signature scheme as REST's `signature_scheme`; unspecified is left to the default. */
export function schemeName(scheme: WebhookSignatureScheme): SignatureScheme | undefined {
  if (scheme === WebhookSignatureScheme.ED25519) return "ed25519";
  if (scheme === WebhookSignatureScheme.HMAC_SHA256) return "hmac_sha256";
  return undefined;
}

/** An ordering as REST's `ordering`: unspecified is left to the default (none on create, unchanged on update). */
function orderingName(ordering: WebhookOrdering): "none" | "fifo" | undefined {
  if (ordering === WebhookOrdering.FIFO) return "fifo";
  if (ordering === WebhookOrdering.NONE) return "none";
  return undefined;
}

function statusName(status: WebhookStatus): "active" | "disabled" {
  if (status === WebhookStatus.ACTIVE) return "active";
  if (status === WebhookStatus.DISABLED) return "disabled";
  throw new ValidationError("status: must be WEBHOOK_STATUS_ACTIVE or WEBHOOK_STATUS_DISABLED");
}

/**
 * CreateWebhook's webhook as REST's create body: proto3 cannot tell an empty string from
 * an absent one, so an empty url is left out (the rules report it missing) and an empty
 * secret or an unspecified status take their defaults.
 */
export function createInput(m: WebhookMessage | undefined): Record<string, unknown> {
  const w = m ?? create(WebhookSchema);
  return {
    ...(w.url ? { url: w.url } : {}),
    event_types: w.eventTypes,
    ...(w.filter !== undefined ? { filter: w.filter } : {}),
    headers: w.headers,
    ...(w.description !== undefined ? { description: w.description } : {}),
    ...(w.status !== WebhookStatus.UNSPECIFIED ? { status: statusName(w.status) } : {}),
    ...(w.secret ? { secret: w.secret } : {}),
    ...(w.permanentFailureCodes.length > 0 ? { permanent_failure_codes: w.permanentFailureCodes } : {}),
    ...(w.rateLimit ? { rate_limit: rateLimitInput(w.rateLimit) } : {}),
    ...(w.maxInFlight !== undefined ? { max_in_flight: w.maxInFlight } : {}),
    ...(orderingName(w.ordering) ? { ordering: orderingName(w.ordering) } : {}),
    ...(w.orderingKey !== undefined ? { ordering_key: w.orderingKey } : {}),
    ...(schemeName(w.signatureScheme) ? { signature_scheme: schemeName(w.signatureScheme) } : {}),
  };
}

/** A RateLimit message as REST's `rate_limit`: a burst of 0 (unset) takes its default. */
function rateLimitInput(r: RateLimit): { per_second: number; burst?: number } {
  return { per_second: r.perSecond, ...(r.burst !== 0 ? { burst: r.burst } : {}) };
}

const MASKABLE = ["url", "event_types", "filter", "headers", "description", "status", "secret", "permanent_failure_codes", "rate_limit", "max_in_flight", "ordering", "ordering_key"] as const;
const OUTPUT_ONLY = new Set(["id", "create_time", "update_time", "disabled_reason", "previous_secret_expire_time", "public_key"]);

/**
 * UpdateWebhook's mask and webhook as the input of `updateWebhook`: "*" replaces (REST's
 * PUT), named fields merge (REST's PATCH). Every bad path is reported at once.
 */
export function updateInput(m: WebhookMessage, mask: FieldMask | undefined): { raw: Record<string, unknown>; mode: "replace" | "merge" } {
  const paths = mask?.paths ?? [];
  if (paths.length === 0) throw new ValidationError(`update_mask: required; name the fields to change (${MASKABLE.join(", ")}) or '*' to replace the webhook`);
  if (paths.includes("*")) {
    if (paths.length > 1) throw new ValidationError("update_mask: '*' must be the only path");
    return { raw: createInput(m), mode: "replace" };
  }
  const problems: string[] = [];
  const patch: WebhookPatch = {};
  for (const path of paths) {
    if (OUTPUT_ONLY.has(path)) problems.push(`update_mask: '${path}' is output only`);
    else if (!(MASKABLE as readonly string[]).includes(path)) problems.push(`update_mask: unknown field '${path}' (use ${MASKABLE.join(", ")} or '*')`);
  }
  if (problems.length > 0) throw new ValidationError(problems.join("; "), problems);
  for (const path of paths as (typeof MASKABLE)[number][]) {
    if (path === "url") patch.url = m.url;
    else if (path === "event_types") patch.event_types = m.eventTypes;
    else if (path === "filter") patch.filter = m.filter ?? null;
    else if (path === "headers") patch.headers = m.headers;
    else if (path === "description") patch.description = m.description ?? null;
    else if (path === "status") patch.status = statusName(m.status);
    else if (path === "permanent_failure_codes") patch.permanent_failure_codes = m.permanentFailureCodes;
    else if (path === "rate_limit") patch.rate_limit = m.rateLimit ? rateLimitInput(m.rateLimit) : null;
    else if (path === "max_in_flight") patch.max_in_flight = m.maxInFlight ?? null;
    else if (path === "ordering") patch.ordering = orderingName(m.ordering) ?? "none";
    else if (path === "ordering_key") patch.ordering_key = m.orderingKey ?? null;
    else patch.secret = m.secret;
  }
  return { raw: patch, mode: "merge" };
}

/** The id a request names; INVALID_ARGUMENT when empty. */
export function requiredId(id: string, field = "id"): string {
  if (!id) throw new ValidationError(`${field}: required`);
  return id;
}
