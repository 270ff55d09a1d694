/** @module Webhook management: one set of rules for every surface (REST now, gRPC next). */
import { Type } from "@sinclair/typebox";
import { NotFoundError, ValidationError } from "../../domain/errors.ts";
import { type Filter, filterProblems } from "../../domain/filter.ts";
import { newId } from "../../domain/ids.ts";
import { NEW_WEBHOOK_STATE, type Page, type Webhook } from "../../domain/model.ts";
import { orderingKeyProblems } from "../../domain/ordering.ts";
import type { Clock, Store, TargetCheck } from "../../domain/ports.ts";
import { newSecret, type SignatureScheme, schemeOf, secretBytes } from "../../domain/signature.ts";
import { assertNoProblems, eventTypeProblems, headerProblems, urlProblems } from "../../domain/webhook-rules.ts";
import { compile } from "../../platform/validate.ts";
import type { Principal } from "../auth/tokens.ts";
import { assertKnownTypes, assertWithinLimits, type WebhookLimits } from "./limits.ts";

export interface WebhookDeps {
  store: Store;
  clock: Clock;
  checkTarget: TargetCheck;
  webhookLimits: WebhookLimits;
}

/** Permanent failure codes one webhook may name at most. */
export const MAX_PERMANENT_FAILURE_CODES = 20;
/** The highest rate limit and burst a webhook may set, deliveries a second. */
const MAX_RATE_PER_SECOND = 10_000;
/** The most requests in flight a webhook may allow over every dispatcher. */
const MAX_IN_FLIGHT = 1000;

const fields = {
  url: Type.String({ description: "http or https, no credentials in it, at most 2048 characters; private addresses refused unless allowed", errorMessage: "must be an absolute http or https URL" }),
  event_types: Type.Array(Type.String(), {
    description: '1-100 event types: names (invoice.paid), prefix patterns (invoice.*: every type under invoice.), or "*" for every type',
    errorMessage: "must be an array of event type strings",
  }),
  filter: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()], {
    description:
      'of the events of those types, only those passing this payload filter: paths into the event (data.amount, source) with a value to equal or operators $eq $neq $gt $gte $lt $lte $in $nin $exists $regex (RE2) $contains (an array element) $not, combined with $and, $or, $not. E.g. {"data.amount": {"$gte": 100}, "data.currency": {"$in": ["EUR", "USD"]}}. At most 64 conditions, 16 KiB. null (the default): every event',
    errorMessage: "must be a filter object (paths and conditions) or null",
  }),
  headers: Type.Record(Type.String(), Type.String(), {
    description: "at most 32, sent with every request; host, content-type, content-length, transfer-encoding, connection and the webhook- signing headers are refused",
    errorMessage: "must be an object of header names to string values",
  }),
  description: Type.Union([Type.String({ maxLength: 1024 }), Type.Null()], { description: "free text, or null", errorMessage: "must be a string of at most 1024 characters, or null" }),
  status: Type.Union([Type.Literal("active"), Type.Literal("disabled")], { description: "disabled webhooks receive nothing", errorMessage: "must be 'active' or 'disabled'" }),
  secret: Type.String({
    description: "'whsec_' + base64 of 24 to 64 bytes (HMAC-SHA256), or 'whsk_' + base64 of a 32-byte Ed25519 seed; generated when omitted",
    errorMessage: "must be 'whsec_' + base64 of 24 to 64 bytes, or 'whsk_' + base64 of a 32-byte Ed25519 seed",
  }),
  permanent_failure_codes: Type.Array(Type.Integer({ minimum: 400, maximum: 599 }), {
    maxItems: MAX_PERMANENT_FAILURE_CODES,
    description: `HTTP statuses (400-599, at most ${MAX_PERMANENT_FAILURE_CODES}) the endpoint means for good, e.g. 400, 401, 403: an attempt answered with one is dead at once, not retried. 410 Gone always disables the webhook.`,
    errorMessage: `must be an array of at most ${MAX_PERMANENT_FAILURE_CODES} HTTP status codes from 400 to 599`,
  }),
  rate_limit: Type.Union(
    [
      Type.Object(
        {
          per_second: Type.Number({ exclusiveMinimum: 0, maximum: MAX_RATE_PER_SECOND, description: `deliveries a second, more than 0 and at most ${MAX_RATE_PER_SECOND} (0.5: one every 2 s)` }),
          burst: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_RATE_PER_SECOND, description: "deliveries sent at once after a quiet spell; default: per_second rounded up" })),
        },
        { additionalProperties: false },
      ),
      Type.Null(),
    ],
    {
      description:
        "at most this many deliveries a second to this webhook, over every dispatcher (a token bucket, shared through Redis in production); the rest wait in the store. null: no limit of its own",
      errorMessage: `must be {"per_second": a number from 0 (exclusive) to ${MAX_RATE_PER_SECOND}, "burst"?: an integer from 1 to ${MAX_RATE_PER_SECOND}} or null`,
    },
  ),
  max_in_flight: Type.Union([Type.Integer({ minimum: 1, maximum: MAX_IN_FLIGHT }), Type.Null()], {
    description: `at most this many requests to this webhook at once, over every dispatcher (1-${MAX_IN_FLIGHT}); null: only each process's dispatcher.max_in_flight_per_webhook`,
    errorMessage: `must be an integer from 1 to ${MAX_IN_FLIGHT}, or null`,
  }),
  ordering: Type.Union([Type.Literal("none"), Type.Literal("fifo")], {
    description:
      "fifo: events are delivered one at a time, in the order ingest accepted them, per ordering key; a later event waits while an earlier one is retried (until it succeeds or is dead). Throughput per key is one request at a time. none (the default): in parallel, in no particular order",
    errorMessage: "must be 'none' or 'fifo'",
  }),
  ordering_key: Type.Union([Type.String({ maxLength: 600 }), Type.Null()], {
    description:
      "with ordering fifo: a dot path into the event (e.g. data.account_id); events with the same value there are one queue, and queues do not wait for each other. null (the default): the whole webhook is one queue",
    errorMessage: "must be a dot path such as data.account_id, or null",
  }),
};

/** How deliveries are signed: HMAC-SHA256 (`v1`), or Ed25519 (`v1a`, receivers verify with the webhook's `public_key`). */
const signatureScheme = Type.Union([Type.Literal("hmac_sha256"), Type.Literal("ed25519")], {
  description:
    "hmac_sha256 (the default): a shared whsec_ secret, signatures v1; ed25519: a whsk_ secret key kept by hookrelay, signatures v1a, receivers verify with the whpk_ public_key (Standard Webhooks)",
  errorMessage: "must be 'hmac_sha256' or 'ed25519'",
});

/** A new webhook (POST), or the whole of one (PUT): what the gateway documents and validates with. */
export const WebhookInputSchema = Type.Object(
  {
    url: fields.url,
    event_types: fields.event_types,
    filter: Type.Optional(fields.filter),
    headers: Type.Optional(fields.headers),
    description: Type.Optional(fields.description),
    status: Type.Optional(fields.status),
    secret: Type.Optional(fields.secret),
    permanent_failure_codes: Type.Optional(fields.permanent_failure_codes),
    rate_limit: Type.Optional(fields.rate_limit),
    max_in_flight: Type.Optional(fields.max_in_flight),
    ordering: Type.Optional(fields.ordering),
    ordering_key: Type.Optional(fields.ordering_key),
    signature_scheme: Type.Optional(signatureScheme),
  },
  { additionalProperties: false, errorMessage: "must be an object with url and event_types" },
);

/** Only the fields to change (PATCH). */
export const WebhookPatchSchema = Type.Partial(Type.Object(fields), { additionalProperties: false, errorMessage: "must be an object" });

const createInput = compile(WebhookInputSchema);
const patchInput = compile(WebhookPatchSchema);

export type WebhookPatch = Partial<{
  url: string;
  event_types: string[];
  filter: Filter | null;
  headers: Record<string, string>;
  description: string | null;
  status: "active" | "disabled";
  secret: string;
  permanent_failure_codes: number[];
  rate_limit: { per_second: number; burst?: number } | null;
  max_in_flight: number | null;
  ordering: "none" | "fifo";
  ordering_key: string | null;
  signature_scheme: SignatureScheme;
}>;

/**
 * A webhook's ordering as set: none, or fifo from now (the log's current end), or as it was
 * (`kept`, when its key and what it receives did not change).
 */
async function orderingOf(deps: Pick<WebhookDeps, "store">, customerId: string, mode: "none" | "fifo", key: string | null, kept: Webhook["ordering"]): Promise<Webhook["ordering"]> {
  if (mode === "none") {
    if (key !== null) throw new ValidationError("ordering_key: needs ordering 'fifo'");
    return null;
  }
  if (kept && kept.key === key) return kept;
  return { key, sinceSeq: await deps.store.latestEventSeq(customerId) };
}

const sameTypes = (a: string[], b: string[]) => a.length === b.length && a.every((t) => b.includes(t));

/** A rate limit as given, with its default burst. */
function rateLimitOf(given: { per_second: number; burst?: number } | null): Webhook["rateLimit"] {
  return given ? { perSecond: given.per_second, burst: given.burst ?? Math.ceil(given.per_second) } : null;
}

function secretProblems(secret: string | undefined, scheme?: SignatureScheme): string[] {
  if (secret === undefined) return [];
  if (secret.startsWith("whsk_")) {
    const bytes = secretBytes(secret).length;
    if (bytes !== 32 && bytes !== 64) return ["secret: an Ed25519 secret key must be 'whsk_' + base64 of its 32-byte seed (or 64 bytes: seed and public key)"];
  } else {
    const bytes = secret.startsWith("whsec_") ? secretBytes(secret).length : 0;
    if (bytes < 24 || bytes > 64) return ["secret: must be 'whsec_' + base64 of 24 to 64 bytes, or (Ed25519) 'whsk_' + base64 of a 32-byte seed"];
  }
  return scheme !== undefined && scheme !== schemeOf(secret) ? [`secret: a ${schemeOf(secret)} secret given with signature_scheme '${scheme}'`] : [];
}

/** Problems with the fields that have the right type; fields of the wrong type are the schema's to report. */
function ruleProblems(raw: unknown): string[] {
  if (typeof raw !== "object" || raw === null) return [];
  const patch = raw as Record<string, unknown>;
  const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === "string");
  const isRecord = (v: unknown): v is Record<string, string> => typeof v === "object" && v !== null && !Array.isArray(v);
  return [
    ...(typeof patch.url === "string" ? urlProblems(patch.url) : []),
    ...(isStrings(patch.event_types) ? eventTypeProblems(patch.event_types) : []),
    ...(isRecord(patch.headers) ? headerProblems(patch.headers) : []),
    ...(typeof patch.secret === "string" ? secretProblems(patch.secret, patch.signature_scheme === "ed25519" || patch.signature_scheme === "hmac_sha256" ? patch.signature_scheme : undefined) : []),
    ...(typeof patch.ordering_key === "string" ? orderingKeyProblems(patch.ordering_key) : []),
    ...(isRecord(patch.filter) ? filterProblems(patch.filter) : []),
  ];
}

/** Validates shape and rules together, so one answer lists every problem. */
function parseWebhookInput<T>(validator: { parse(raw: unknown): T }, raw: unknown): T {
  const rules = ruleProblems(raw);
  let input: T;
  try {
    input = validator.parse(raw);
  } catch (err) {
    if (!(err instanceof ValidationError) || rules.length === 0) throw err;
    const all = [...(err.details.length > 0 ? err.details : [err.message]), ...rules];
    throw new ValidationError(all.join("; "), all);
  }
  // Outside the try: the rules' own error must not be merged with itself (each problem once).
  assertNoProblems(rules);
  return input;
}

/** The target check: resolves the host and refuses non-public addresses (unless allowed). */
async function checkTarget(deps: WebhookDeps, patch: WebhookPatch): Promise<void> {
  if (patch.url !== undefined) {
    const refused = await deps.checkTarget(new URL(patch.url));
    if (refused) {
      const hint = refused.includes("not public") ? " (for local testing only: HOOKRELAY_ALLOW_PRIVATE_TARGETS=true)" : "";
      throw new ValidationError(`url: target refused: ${refused}${hint}`);
    }
  }
}

export async function createWebhook(deps: WebhookDeps, principal: Principal, raw: unknown): Promise<Webhook> {
  const input = parseWebhookInput(createInput, raw);
  await checkTarget(deps, input);
  const now = new Date(deps.clock.now()).toISOString();
  const webhook: Webhook = {
    id: newId("wh", deps.clock.now()),
    customerId: principal.customerId,
    url: input.url,
    eventTypes: [...new Set(input.event_types)],
    headers: input.headers ?? {},
    description: input.description ?? null,
    secret: input.secret ?? newSecret(input.signature_scheme),
    status: input.status ?? "active",
    ...NEW_WEBHOOK_STATE,
    filter: input.filter ?? null,
    permanentFailureCodes: input.permanent_failure_codes ? [...new Set(input.permanent_failure_codes)].sort((a, b) => a - b) : [],
    rateLimit: rateLimitOf(input.rate_limit ?? null),
    maxInFlight: input.max_in_flight ?? null,
    ordering: await orderingOf(deps, principal.customerId, input.ordering ?? "none", input.ordering_key ?? null, null),
    createdAt: now,
    updatedAt: now,
  };
  await assertWithinLimits(deps.store, deps.webhookLimits, webhook);
  await assertKnownTypes(deps.store, deps.webhookLimits, webhook);
  await deps.store.createWebhook(webhook);
  return webhook;
}

export async function getWebhook(deps: Pick<WebhookDeps, "store">, principal: Principal, id: string): Promise<Webhook> {
  const webhook = await deps.store.getWebhook(principal.customerId, id);
  if (!webhook) throw new NotFoundError("webhook", id);
  return webhook;
}

export function listWebhooks(deps: Pick<WebhookDeps, "store">, principal: Principal, limit: number, cursor?: string): Promise<Page<Webhook>> {
  return deps.store.listWebhooks(principal.customerId, limit, cursor);
}

/** PUT replaces url and event types (both required); PATCH changes only what it names. */
export async function updateWebhook(deps: WebhookDeps, principal: Principal, id: string, raw: unknown, mode: "replace" | "merge"): Promise<Webhook> {
  const patch: WebhookPatch = parseWebhookInput(mode === "replace" ? createInput : patchInput, raw);
  const current = await getWebhook(deps, principal, id);
  await checkTarget(deps, patch);
  const replace = mode === "replace";
  const updated: Webhook = {
    ...current,
    url: patch.url ?? current.url,
    eventTypes: patch.event_types ? [...new Set(patch.event_types)] : current.eventTypes,
    filter: patch.filter !== undefined ? patch.filter : replace ? null : current.filter,
    headers: patch.headers ?? (replace ? {} : current.headers),
    description: patch.description !== undefined ? patch.description : replace ? null : current.description,
    status: patch.status ?? (replace ? "active" : current.status),
    // A scheme other than the current secret's, without a secret: a new one of that scheme, at once.
    secret: patch.secret ?? (patch.signature_scheme && patch.signature_scheme !== schemeOf(current.secret) ? newSecret(patch.signature_scheme) : current.secret),
    permanentFailureCodes: patch.permanent_failure_codes ? [...new Set(patch.permanent_failure_codes)].sort((a, b) => a - b) : replace ? [] : current.permanentFailureCodes,
    rateLimit: patch.rate_limit !== undefined ? rateLimitOf(patch.rate_limit) : replace ? null : current.rateLimit,
    maxInFlight: patch.max_in_flight !== undefined ? patch.max_in_flight : replace ? null : current.maxInFlight,
    updatedAt: new Date(deps.clock.now()).toISOString(),
  };
  const ordering = patch.ordering ?? (replace || !current.ordering ? "none" : "fifo");
  const orderingKey = patch.ordering_key !== undefined ? patch.ordering_key : replace ? null : (current.ordering?.key ?? null);
  // What it was subscribed to, or whether it received anything, changed: the events before now are not its queue's.
  const sameQueue = current.status === "active" && updated.status === "active" && sameTypes(current.eventTypes, updated.eventTypes);
  updated.ordering = await orderingOf(deps, principal.customerId, ordering, orderingKey, sameQueue ? current.ordering : null);
  // Why hookrelay disabled it holds only while it stays disabled: any status set by a person clears it.
  if (patch.status !== undefined || updated.status === "active") updated.disabledReason = null;
  await assertWithinLimits(deps.store, deps.webhookLimits, updated);
  if (patch.event_types) await assertKnownTypes(deps.store, deps.webhookLimits, updated);
  await deps.store.updateWebhook(updated);
  return updated;
}

export async function deleteWebhook(deps: Pick<WebhookDeps, "store">, principal: Principal, id: string): Promise<void> {
  if (!(await deps.store.deleteWebhook(principal.customerId, id))) throw new NotFoundError("webhook", id);
}

/** How long a rotated-out secret keeps signing alongside the new one unless the call says otherwise, and at most. */
export const DEFAULT_GRACE_PERIOD_SECONDS = 24 * 3600;
const MAX_GRACE_PERIOD_SECONDS = 7 * 24 * 3600;

/** What a rotation may say: the new secret (random when omitted) and how long the old one still signs. */
export const RotateSecretSchema = Type.Object(
  {
    secret: Type.Optional(fields.secret),
    signature_scheme: Type.Optional(signatureScheme),
    grace_period_seconds: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_GRACE_PERIOD_SECONDS,
        description: `how long the old secret still signs each delivery alongside the new one (two signatures in webhook-signature), 0 to ${MAX_GRACE_PERIOD_SECONDS} seconds; default ${DEFAULT_GRACE_PERIOD_SECONDS} (24 h); 0: the new one only, at once`,
        errorMessage: `must be an integer number of seconds from 0 to ${MAX_GRACE_PERIOD_SECONDS} (7 days)`,
      }),
    ),
  },
  { additionalProperties: false, errorMessage: "must be an object with secret, signature_scheme and grace_period_seconds, all optional" },
);
const rotateInput = compile(RotateSecretSchema);

/**
 * Replaces the signing secret with a new random one (or the given one). The old one keeps signing
 * alongside it for the grace period (default 24 h), so receivers can switch without failing a
 * delivery; a second rotation within it ends the first one's old secret.
 */
export async function rotateSecret(deps: WebhookDeps, principal: Principal, id: string, raw: unknown = {}): Promise<Webhook> {
  const input = rotateInput.parse(raw);
  assertNoProblems(secretProblems(input.secret, input.signature_scheme));
  const current = await getWebhook(deps, principal, id);
  const now = deps.clock.now();
  const graceMs = (input.grace_period_seconds ?? DEFAULT_GRACE_PERIOD_SECONDS) * 1000;
  const updated: Webhook = {
    ...current,
    // A new secret of the current one's scheme unless another is asked for.
    secret: input.secret ?? newSecret(input.signature_scheme ?? schemeOf(current.secret)),
    previousSecret: graceMs > 0 ? { secret: current.secret, expiresAt: now + graceMs } : null,
    updatedAt: new Date(now).toISOString(),
  };
  await deps.store.updateWebhook(updated);
  return updated;
}
