/**
 * @module The gateway's own request schemas (login, customers, keys, list queries, OAuth's form)
 * and the shape of every answer, as TypeBox schemas: Elysia validates requests with the first and
 * types its handlers' answers with the second, and the OpenAPI document embeds both.
 */
import { type TSchema, Type } from "@sinclair/typebox";
import { t } from "elysia";
import { DELIVERY_STATUSES } from "../../domain/model.ts";
import { SCOPES } from "../auth/scopes.ts";
import "../ingest/schema.ts"; // registers the date-time format every timestamp below uses
import { MAX_PAGE } from "./deliveries.ts";

const Timestamp = (description: string) => Type.String({ format: "date-time", description });
const Nullable = <T extends TSchema>(schema: T, description: string) => Type.Union([schema, Type.Null()], { description });
/** One of `values`: a union of literals, typed as the values (a mapped array alone would type as never). */
const OneOf = <const T extends readonly string[]>(values: T, options: object = {}) =>
  Type.Unsafe<T[number]>(
    Type.Union(
      values.map((v) => Type.Literal(v)),
      options,
    ),
  );
const ScopeSchema = OneOf(SCOPES);
const Strict = { additionalProperties: false } as const;

// ---- requests ----

export const LoginInputSchema = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 256, description: "`admin` (the operator)" }),
    password: Type.String({ minLength: 1, maxLength: 1024, description: "`HOOKRELAY_ADMIN_PASSWORD`, or the one printed on first start" }),
  },
  { additionalProperties: false, errorMessage: 'must be {"username", "password"}' },
);

export const CustomerInputSchema = Type.Object(
  {
    id: Type.Optional(
      Type.String({
        pattern: "^[a-z0-9][a-z0-9_-]{0,63}$",
        description: "1-64 of a-z, 0-9, _ and -; generated (`cus_…`) when omitted",
        errorMessage: "must be 1-64 of a-z, 0-9, _ and -, starting with a letter or digit",
      }),
    ),
    name: Type.String({ minLength: 1, maxLength: 256, errorMessage: "must be a non-empty string of at most 256 characters" }),
  },
  { additionalProperties: false, errorMessage: 'must be {"name", "id"?}' },
);

export const ApiKeyInputSchema = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 256, description: "what the key is for", errorMessage: "must be a non-empty string of at most 256 characters" }),
    scopes: Type.Array(ScopeSchema, {
      minItems: 1,
      uniqueItems: true,
      description: "`admin` only for keys of the `default` customer (it reaches every customer)",
      errorMessage: `must be a non-empty list of distinct scopes from ${SCOPES.join(", ")}`,
    }),
    expires_at: Type.Optional(
      Type.Union([Type.Null(), Type.String({ format: "date-time", errorMessage: "must be an RFC 3339 date-time" })], {
        description: "in the future; null or omitted: never expires",
      }),
    ),
  },
  { additionalProperties: false, errorMessage: 'must be {"name", "scopes", "expires_at"?}' },
);

// Elysia's t.Integer: in a query, Elysia turns it into a number from text (TypeBox's does not).
const Limit = Type.Optional(t.Integer({ minimum: 1, maximum: MAX_PAGE, title: "limit", description: "page size (default 100)", errorMessage: `must be an integer from 1 to ${MAX_PAGE}` }));
const Cursor = Type.Optional(Type.String({ maxLength: 64, description: "the previous page's `next_cursor`", errorMessage: "must be the next_cursor of a previous page" }));

export const PageQuerySchema = Type.Object({ limit: Limit, cursor: Cursor }, { additionalProperties: false });

export const DeliveryQuerySchema = Type.Object(
  {
    webhook_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "only this webhook's deliveries", errorMessage: "must be a webhook id" })),
    event_id: Type.Optional(Type.String({ minLength: 1, maxLength: 256, description: "only this event's deliveries", errorMessage: "must be an event id" })),
    status: Type.Optional(OneOf(DELIVERY_STATUSES, { description: "only deliveries in this state", errorMessage: "must be one of pending, succeeded, failed, dead" })),
    limit: Limit,
    cursor: Cursor,
  },
  { additionalProperties: false, errorMessage: "unknown filter" },
);

const Since = Type.Optional(
  Type.String({ format: "date-time", description: "only events accepted at or after this time (RFC 3339)", errorMessage: "must be an RFC 3339 date-time, e.g. 2026-12-05T09:00:00Z" }),
);
const Until = Type.Optional(
  Type.String({ format: "date-time", description: "only events accepted before this time (RFC 3339)", errorMessage: "must be an RFC 3339 date-time, e.g. 2026-12-05T10:00:00Z" }),
);

export const EventQuerySchema = Type.Object(
  {
    type: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: "only events of this type", errorMessage: "must be an event type" })),
    since: Since,
    until: Until,
    delivery_status: Type.Optional(
      OneOf(["failed", "pending"], {
        description:
          "failed: events with a delivery whose last attempt failed (failed, being retried, or dead); pending: events with a delivery not finished (pending or failed). Such a page looks at 10,000 events at most: it may hold fewer than limit and still have a next_cursor",
        errorMessage: "must be failed or pending",
      }),
    ),
    limit: Limit,
    cursor: Type.Optional(Type.String({ maxLength: 512, description: "the previous page's `next_cursor`", errorMessage: "must be the next_cursor of a previous page" })),
  },
  { additionalProperties: false, errorMessage: "unknown filter" },
);

export const WebhookDeliveryQuerySchema = Type.Object(
  {
    status: Type.Optional(OneOf(DELIVERY_STATUSES, { description: "only deliveries in this state", errorMessage: "must be one of pending, succeeded, failed, dead" })),
    since: Since,
    until: Until,
    limit: Limit,
    cursor: Cursor,
  },
  { additionalProperties: false, errorMessage: "unknown filter" },
);

export const OperationalEventQuerySchema = Type.Object(
  {
    webhook_id: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: "only this webhook's events", errorMessage: "must be a webhook id" })),
    limit: Limit,
    cursor: Cursor,
  },
  { additionalProperties: false, errorMessage: "unknown filter" },
);

/** RFC 6749 §4.4.2; unknown parameters are ignored, as the RFC says. The handler reads the form itself. */
export const OAuthTokenFormSchema = Type.Object({
  grant_type: Type.Literal("client_credentials"),
  client_id: Type.Optional(Type.String({ description: "the API key's `id`; or send it as HTTP Basic" })),
  client_secret: Type.Optional(Type.String({ description: "the API key itself (`hrk_…`); or send it as HTTP Basic" })),
  scope: Type.Optional(Type.String({ description: "space-separated subset of the key's scopes; default all of them" })),
});

export const IdParams = (what: string) => Type.Object({ id: Type.String({ description: `the ${what}'s id` }) });

// ---- answers ----

export const OAuthErrorSchema = Type.Object(
  {
    error: OneOf(["invalid_request", "invalid_client", "unsupported_grant_type", "invalid_scope"]),
    error_description: Type.String(),
  },
  { ...Strict, description: "RFC 6749 §5.2 (OAuth client libraries read it)" },
);

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ description: "`wh_…`" }),
    url: Type.String({ description: "absolute http or https URL the events are POSTed to" }),
    event_types: Type.Array(Type.String(), { description: "type names, `prefix.*` patterns (every type under the prefix), or `*` for every type" }),
    filter: Nullable(Type.Record(Type.String(), Type.Unknown()), "of the events of those types, only those passing this payload filter are delivered; null: all of them"),
    headers: Type.Record(Type.String(), Type.String(), { description: "sent with every request" }),
    description: Nullable(Type.String(), "free text"),
    status: Type.Union([Type.Literal("active"), Type.Literal("disabled")]),
    disabled_reason: Nullable(Type.String(), "why hookrelay disabled it (its endpoint answered 410 Gone, or it kept failing); null while active and when a person disabled it"),
    permanent_failure_codes: Type.Array(Type.Integer(), { description: "HTTP statuses that end a delivery at once (dead, no retry)" }),
    rate_limit: Nullable(Type.Object({ per_second: Type.Number(), burst: Type.Integer() }, Strict), "deliveries a second at most (and the burst), over every dispatcher; null: no limit of its own"),
    max_in_flight: Nullable(Type.Integer(), "requests in flight at once at most, over every dispatcher; null: only each process's own limit"),
    ordering: Type.Union([Type.Literal("none"), Type.Literal("fifo")], { description: "fifo: one at a time, in ingest order, per ordering key; none: in parallel" }),
    ordering_key: Nullable(Type.String(), "with fifo: the dot path into the event whose value names the queue; null: one queue for the webhook"),
    signature_scheme: Type.Union([Type.Literal("hmac_sha256"), Type.Literal("ed25519")], {
      description: "hmac_sha256: v1 signatures with the shared secret; ed25519: v1a signatures, verified with public_key",
    }),
    public_key: Nullable(Type.String(), "ed25519: the whpk_ public key receivers verify v1a signatures with (not a secret); null for hmac_sha256"),
    previous_secret_expires_at: Nullable(
      Type.String({ format: "date-time" }),
      "until then each delivery is signed with the secret before the last rotation too (two signatures in webhook-signature); null: only the current secret signs",
    ),
    created_at: Timestamp("when it was created"),
    updated_at: Timestamp("when it last changed"),
  },
  { ...Strict, description: "A webhook as reads show it: never its signing secret (see `GET /api/v1/webhooks/{id}/secret`)" },
);

const SecretField = Type.String({ description: "`whsec_` + base64 signing key (Standard Webhooks)" });

export const WebhookWithSecretSchema = Type.Object(
  { ...WebhookSchema.properties, secret: SecretField },
  { ...Strict, description: "A webhook with its signing secret: the answer of create and rotate-secret only" },
);

export const WebhookSecretSchema = Type.Object({ secret: SecretField }, { ...Strict, description: "A webhook's signing secret" });

export const DeliverySchema = Type.Object(
  {
    id: Type.String(),
    event_id: Type.String(),
    webhook_id: Type.String(),
    status: OneOf(DELIVERY_STATUSES, { description: "pending: not tried yet or in flight; failed: a retry is scheduled; dead: out of retries" }),
    attempt_count: Type.Integer({ minimum: 0, description: "attempts over the delivery's whole life" }),
    last_status_code: Nullable(Type.Integer(), "the endpoint's last HTTP status; null when it did not answer"),
    last_error: Nullable(Type.String(), "why the last attempt failed"),
    next_attempt_at: Nullable(Type.String({ format: "date-time" }), "when the next retry is due"),
    created_at: Timestamp("when it was first stored"),
    updated_at: Timestamp("when it last changed"),
  },
  Strict,
);

export const AttemptSchema = Type.Object(
  {
    id: Type.String(),
    delivery_id: Type.String(),
    attempt_number: Type.Integer({ minimum: 1 }),
    status_code: Nullable(Type.Integer(), "null: timeout or connection error"),
    duration_ms: Type.Number({ minimum: 0 }),
    error: Nullable(Type.String(), "timeout, connection error, or the non-2xx status"),
    response_body: Nullable(Type.String(), "the endpoint's answer, truncated (dispatcher.max_response_body_bytes)"),
    created_at: Timestamp("when the attempt ended"),
  },
  Strict,
);

export const EventWithDeliveriesSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    source: Type.String(),
    data: Type.Unknown({ description: "as sent" }),
    timestamp: Timestamp("the producer's, or when it was accepted"),
    message_id: Type.String({ description: "the `webhook-id` every delivery of this event carries (`msg_…`, from the customer and the event id)" }),
    accepted_at: Timestamp("when hookrelay stored it"),
    deliveries: Type.Array(DeliverySchema),
  },
  Strict,
);

/** An event in a list: what finds it, not its data (`GET /api/v1/events/{id}` has that and its deliveries). */
export const EventSummarySchema = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    source: Type.String(),
    timestamp: Timestamp("the producer's, or when it was accepted"),
    message_id: Type.String({ description: "the `webhook-id` every delivery of this event carries" }),
    accepted_at: Timestamp("when hookrelay stored it"),
  },
  Strict,
);

export const LoginTokenSchema = Type.Object(
  {
    access_token: Type.String({ description: "a JWT; send it as `Authorization: Bearer …`" }),
    token_type: Type.Literal("Bearer"),
    expires_in: Type.Integer({ minimum: 1, description: "seconds" }),
  },
  Strict,
);

export const OAuthTokenSchema = Type.Object({ ...LoginTokenSchema.properties, scope: Type.String({ description: "the scopes granted, space-separated" }) }, Strict);

export const CustomerSchema = Type.Object({ id: Type.String(), name: Type.String(), created_at: Timestamp("") }, Strict);

const apiKeyFields = {
  id: Type.String({ description: "`key_…`; the client_id for /oauth/token" }),
  customer_id: Type.String(),
  name: Type.String(),
  prefix: Type.String({ description: "the key's first 12 characters, to tell keys apart" }),
  scopes: Type.Array(ScopeSchema),
  created_at: Timestamp(""),
  expires_at: Nullable(Type.String({ format: "date-time" }), "null: never"),
  revoked_at: Nullable(Type.String({ format: "date-time" }), "null: not revoked"),
};

export const ApiKeySchema = Type.Object(apiKeyFields, { ...Strict, description: "As lists show a key: never the key itself, never its hash" });

export const ApiKeyCreatedSchema = Type.Object({ ...apiKeyFields, key: Type.String({ description: "`hrk_…`: shown this once; only its hash is kept" }) }, Strict);

const NextCursor = Nullable(Type.String(), "pass as `cursor` for the next page; null on the last page");
const PageOf = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item), next_cursor: NextCursor }, Strict);
const ListOf = <T extends TSchema>(item: T) => Type.Object({ data: Type.Array(item) }, Strict);

export const WebhookPageSchema = PageOf(WebhookSchema);

export const OperationalEventSchema = Type.Object(
  {
    id: Type.String({ description: "`ope_…`, time-ordered" }),
    type: Type.Union([Type.Literal("webhook.disabled"), Type.Literal("webhook.paused"), Type.Literal("webhook.resumed"), Type.Literal("recovery.finished")], {
      description:
        "webhook.disabled: hookrelay disabled it (410 Gone, or failing too long); webhook.paused / webhook.resumed: its circuit breaker opened / closed; recovery.finished: a recovery of it sent all it matched",
    }),
    webhook_id: Type.String(),
    reason: Type.String({ description: "why, in words" }),
    created_at: Timestamp("when it happened"),
  },
  { ...Strict, description: "Something that happened to a webhook's health" },
);

export const OperationalEventPageSchema = PageOf(OperationalEventSchema);

export const WebhookHealthSchema = Type.Object(
  {
    webhook_id: Type.String(),
    state: Type.Union([Type.Literal("healthy"), Type.Literal("paused"), Type.Literal("disabled")], {
      description: "healthy: delivering; paused: its circuit breaker is open, events are held and one is tried now and then; disabled: receives nothing (see disabled_reason)",
    }),
    disabled_reason: Nullable(Type.String(), "why hookrelay disabled it; null while active and when a person disabled it"),
    paused_since: Nullable(Type.String({ format: "date-time" }), "when its breaker opened; null unless paused"),
    failing_since: Nullable(Type.String({ format: "date-time" }), "the first failure of the streak that paused it; failing `endpoint_health.disable_after` disables it"),
    consecutive_failures: Type.Integer({ description: "failed attempts in a row, the probes' included, while paused; 0 otherwise (each delivering process counts its own until one pauses it)" }),
    next_probe_at: Nullable(Type.String({ format: "date-time" }), "when it is tried again; null unless paused"),
    current_backoff_ms: Nullable(Type.Integer(), "the wait before that probe; it doubles after each failed one"),
    last_success_at: Nullable(Type.String({ format: "date-time" }), "when the newest event's delivery that succeeded did"),
    last_failure_at: Nullable(Type.String({ format: "date-time" }), "when the newest event's delivery that failed (or died) did"),
    queued: Type.Integer({ description: "deliveries not finished: held while paused, waiting for a retry, or on their way" }),
  },
  { ...Strict, description: "A webhook's health" },
);
export const DeliveryPageSchema = PageOf(DeliverySchema);
export const EventPageSchema = PageOf(EventSummarySchema);
export const CustomerPageSchema = PageOf(CustomerSchema);
export const AttemptListSchema = ListOf(AttemptSchema);
export const ApiKeyListSchema = ListOf(ApiKeySchema);

/** What a test send answers: the sample event, what was sent, and what the endpoint said. */
export const TestSendResultSchema = Type.Object(
  {
    event: Type.Object(
      { id: Type.String({ description: "`test_…`" }), type: Type.String(), source: Type.String(), timestamp: Timestamp("when it was made"), data: Type.Unknown() },
      { ...Strict, description: "the sample event, as its body was sent" },
    ),
    request_headers: Type.Record(Type.String(), Type.String(), { description: "the signature headers sent (webhook-id, webhook-timestamp, webhook-signature)" }),
    succeeded: Type.Boolean({ description: "the endpoint answered 2xx" }),
    status_code: Nullable(Type.Integer(), "the endpoint's status; null when none came"),
    duration_ms: Type.Number({ description: "from sending to the answer (or the failure), ms" }),
    response_excerpt: Nullable(Type.String(), "the first 1,024 characters of the endpoint's answer"),
    error: Nullable(Type.String(), "what went wrong, as a delivery attempt records it: `HTTP <status>`, a timeout, a refused connection, a blocked target; null on a 2xx"),
  },
  { ...Strict, description: "A test send's outcome: not a delivery, nothing of it is stored" },
);

/** What trying a webhook's filter answers. */
export const FilterTestResultSchema = Type.Object(
  {
    matches: Type.Boolean({ description: "the webhook would receive the event: its type is subscribed to and it passes the filter" }),
    type_matches: Type.Boolean({ description: "the event's type is one of the webhook's event_types (a name, a prefix.* pattern, or *)" }),
    filter_matches: Type.Boolean({ description: "the event passes the filter; true when there is none" }),
    filter: Nullable(Type.Record(Type.String(), Type.Unknown()), "the filter tried: the one given, else the webhook's; null: none"),
  },
  { ...Strict, description: "Whether a webhook would receive a sample event" },
);

/** An event type of the catalog. */
export const EventTypeSchema = Type.Object(
  {
    name: Type.String({ description: "as events carry it in `type`" }),
    description: Type.String(),
    schema: Nullable(Type.Record(Type.String(), Type.Unknown()), "the JSON Schema every event of this type's data satisfies (checked at ingest); null: any data"),
    examples: Type.Array(Type.Unknown(), { description: "examples of the data; a test send sends the first" }),
    created_at: Timestamp("when it was added"),
    updated_at: Timestamp("when it last changed"),
  },
  { ...Strict, description: "An event type of the catalog" },
);
export const EventTypePageSchema = PageOf(EventTypeSchema);

/** The catalog as an OpenAPI 3.1 document of webhooks (src/services/gateway/catalog.ts). */
export const CatalogDocumentSchema = Type.Object(
  {
    openapi: Type.Literal("3.1.0"),
    info: Type.Object({ title: Type.String(), version: Type.String(), description: Type.String() }, Strict),
    paths: Type.Object({}, Strict),
    webhooks: Type.Record(Type.String(), Type.Unknown(), { description: "one operation per event type: `post`, its request body the delivered event with the type's data schema and examples" }),
  },
  { ...Strict, description: "An OpenAPI 3.1 document whose `webhooks` describe what the customer's receivers get" },
);

/** A bulk replay (recovery) job and its progress. */
export const RecoveryJobSchema = Type.Object(
  {
    id: Type.String({ description: "`job_…`" }),
    kind: Type.Literal("recover"),
    webhook_id: Type.String(),
    state: Type.Union([Type.Literal("running"), Type.Literal("finished"), Type.Literal("cancelled")]),
    since: Timestamp("the deliveries of events accepted from then"),
    until: Nullable(Type.String({ format: "date-time" }), "until then (the request's time when it named none)"),
    status: Type.Union([Type.Literal("dead"), Type.Literal("failed"), Type.Literal("succeeded")], { description: "the deliveries' status it sends" }),
    per_second: Type.Number({ description: "deliveries sent a second at most, evenly spaced" }),
    matched: Nullable(Type.Integer(), "the deliveries it sends in all (counted when it started)"),
    sent: Type.Integer({ description: "sent so far" }),
    succeeded: Type.Integer({ description: "of those, answered 2xx" }),
    failed: Type.Integer({ description: "of those, failed (each goes on with its own retries)" }),
    created_at: Timestamp("when it started"),
    finished_at: Nullable(Type.String({ format: "date-time" }), "when it finished or was cancelled"),
  },
  { ...Strict, description: "A recovery: a webhook's deliveries sent again in the background, at a pace" },
);

/** A customer portal link. */
export const PortalLinkSchema = Type.Object(
  {
    url: Type.String({ description: "the portal page, with the link's token in its fragment: give it to the customer's browser, keep it out of logs" }),
    expires_at: Timestamp("when the link stops working (its token's `exp`)"),
    scopes: Type.Array(ScopeSchema, { description: "what the link's token may do, in the customer's webhooks and deliveries" }),
  },
  { ...Strict, description: "A short-lived link to one customer's portal" },
);
