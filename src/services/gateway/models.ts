/**
 * @module The gateway's named schemas, as Elysia models: routes name them (`body: "WebhookInput"`),
 * Elysia validates with them, and the OpenAPI document shows each once under
 * `components.schemas`, with the examples given here (each one valid by its schema: tested).
 */
import { ErrorSchema } from "../../platform/http.ts";
import { withExamples } from "../../platform/openapi-document.ts";
import { EventTypeInputSchema, EventTypePatchSchema } from "../catalog/manage.ts";
import { EVENT_EXAMPLE, INGEST_MODELS } from "../ingest/models.ts";
import { PortalLinkSchema } from "../portal/links.ts";
import { RecoverSchema } from "../recovery/jobs.ts";
import { FilterTestSchema } from "../webhooks/filter-test.ts";
import { RotateSecretSchema, WebhookInputSchema, WebhookPatchSchema } from "../webhooks/manage.ts";
import { TestSendSchema } from "../webhooks/test-send.ts";
import * as S from "./schemas.ts";

/** The gateway's own request bodies (login, webhooks, customers, keys): at most 64 KiB. */
export const SMALL_BODY = 64 * 1024;

/** The document's sections. */
export const TAGS = {
  auth: "Authentication",
  webhooks: "Webhooks",
  events: "Events",
  deliveries: "Deliveries",
  accounts: "Customers and API keys",
  catalog: "Event types",
  operational: "Operational webhooks",
  service: "Service",
} as const;

const at = "2026-12-05T09:00:00.000Z";
const webhook = {
  id: "wh_01JF3Z8Q0M9V7T2B4K6N8R1C3D",
  url: "https://example.com/hooks/orders",
  event_types: ["order.created", "order.paid"],
  filter: null,
  headers: { "x-team": "billing" },
  description: "order events for billing",
  status: "active",
  disabled_reason: null,
  permanent_failure_codes: [400, 401, 403],
  rate_limit: { per_second: 50, burst: 100 },
  max_in_flight: null,
  ordering: "none",
  ordering_key: null,
  signature_scheme: "hmac_sha256",
  public_key: null,
  previous_secret_expires_at: null,
  created_at: at,
  updated_at: at,
};
const secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const eventTypeInput = {
  name: "order.created",
  description: "an order was placed",
  schema: { type: "object", required: ["order_id", "total"], properties: { order_id: { type: "integer" }, total: { type: "string", pattern: "^[0-9]+\\.[0-9]{2}$" } } },
  examples: [{ order_id: 42, total: "19.90" }],
};
const delivery = {
  id: "dlv_01JF3Z9A1B2C3D4E5F6G7H8J9K",
  event_id: "evt_0001",
  webhook_id: webhook.id,
  status: "failed",
  attempt_count: 1,
  last_status_code: 503,
  last_error: "HTTP 503",
  next_attempt_at: "2026-12-05T09:00:05.000Z",
  created_at: at,
  updated_at: at,
};
const attempt = {
  id: "att_01JF3Z9B2C3D4E5F6G7H8J9K0L",
  delivery_id: delivery.id,
  attempt_number: 1,
  status_code: 503,
  duration_ms: 12.5,
  error: "HTTP 503",
  response_body: "down for maintenance",
  created_at: at,
};
const operationalEvent = {
  id: "ope_01JF3ZB1C2D3E4F5G6H7J8K9M0",
  type: "webhook.disabled",
  webhook_id: webhook.id,
  reason: `the endpoint answered 410 Gone at ${at} (delivery ${delivery.id})`,
  created_at: at,
};
const customer = { id: "acme", name: "Acme Inc.", created_at: at };
const apiKey = {
  id: "key_01JF3ZA0B1C2D3E4F5G6H7J8K9",
  customer_id: "acme",
  name: "acme producer",
  prefix: "hrk_9c1f2e3d",
  scopes: ["events:write"],
  created_at: at,
  expires_at: "2030-06-01T00:00:00.000Z",
  revoked_at: null,
};
const token = { access_token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJl", token_type: "Bearer", expires_in: 3600 };

export const GATEWAY_MODELS = {
  Error: ErrorSchema,
  Webhook: withExamples(S.WebhookSchema, webhook),
  WebhookWithSecret: withExamples(S.WebhookWithSecretSchema, { ...webhook, secret }),
  WebhookSecret: withExamples(S.WebhookSecretSchema, { secret }),
  WebhookInput: withExamples(WebhookInputSchema, {
    url: webhook.url,
    event_types: ["order.*"],
    filter: { "data.total": { $gte: 100 } },
    headers: webhook.headers,
    description: webhook.description,
    permanent_failure_codes: webhook.permanent_failure_codes,
  }),
  WebhookPatch: withExamples(WebhookPatchSchema, { status: "disabled" }),
  RecoverInput: withExamples(RecoverSchema, { since: "2026-12-04T14:00:00Z", status: "dead", per_second: 5 }),
  RecoveryJob: withExamples(S.RecoveryJobSchema, {
    id: "job_01m93q37mnx0x299fn3mte65wm",
    kind: "recover",
    webhook_id: webhook.id,
    state: "running",
    since: "2026-12-04T14:00:00.000Z",
    until: at,
    status: "dead",
    per_second: 5,
    matched: 1840,
    sent: 312,
    succeeded: 309,
    failed: 3,
    created_at: at,
    finished_at: null,
  }),
  OperationalWebhookInput: withExamples(WebhookInputSchema, { url: "https://ops.example.com/hookrelay", event_types: ["webhook.disabled", "delivery.dead"], description: "on-call" }),
  EventTypeInput: withExamples(EventTypeInputSchema, eventTypeInput),
  EventTypePatch: withExamples(EventTypePatchSchema, { description: "an order was placed (totals in cents)" }),
  EventType: withExamples(S.EventTypeSchema, { ...eventTypeInput, created_at: at, updated_at: at }),
  CatalogDocument: withExamples(S.CatalogDocumentSchema, {
    openapi: "3.1.0",
    info: { title: "Webhook events", version: "1", description: "The events this customer's webhooks receive, signed per Standard Webhooks." },
    paths: {},
    webhooks: {
      "order.created": {
        post: {
          operationId: "on_order_created",
          summary: "order.created",
          requestBody: { required: true, content: { "application/json": { schema: { type: "object" } } } },
          responses: { "2XX": { description: "received" } },
        },
      },
    },
  }),
  EventTypePage: withExamples(S.EventTypePageSchema, { data: [{ ...eventTypeInput, created_at: at, updated_at: at }], next_cursor: null }),
  FilterTestInput: withExamples(FilterTestSchema, {
    event: { type: "order.paid", data: { amount: 250, currency: "EUR" } },
    filter: { "data.amount": { $gte: 100 }, "data.currency": { $in: ["EUR", "USD"] } },
  }),
  FilterTestResult: withExamples(S.FilterTestResultSchema, {
    matches: true,
    type_matches: true,
    filter_matches: true,
    filter: { "data.amount": { $gte: 100 }, "data.currency": { $in: ["EUR", "USD"] } },
  }),
  RotateSecretInput: withExamples(RotateSecretSchema, { grace_period_seconds: 3600 }),
  TestSendInput: withExamples(TestSendSchema, { event_type: "order.created" }),
  TestSendResult: withExamples(S.TestSendResultSchema, {
    event: { id: "test_01JF3Z8Q0M9V7T2B4K6N8R1C3D", type: "order.created", source: "hookrelay.test", timestamp: at, data: { test: true, note: "a test send from hookrelay: not a real event" } },
    request_headers: { "webhook-id": "msg_2kbm6m3zbqy5c8bfv7p4n1xw0d", "webhook-timestamp": "1796461200", "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=" },
    succeeded: true,
    status_code: 200,
    duration_ms: 42.5,
    response_excerpt: "ok",
    error: null,
  }),
  WebhookPage: withExamples(S.WebhookPageSchema, { data: [webhook], next_cursor: null }),
  WebhookHealth: withExamples(S.WebhookHealthSchema, {
    webhook_id: webhook.id,
    state: "paused",
    disabled_reason: null,
    paused_since: "2026-12-05T09:00:00.000Z",
    failing_since: "2026-12-05T08:59:41.000Z",
    consecutive_failures: 22,
    next_probe_at: "2026-12-05T09:00:40.000Z",
    current_backoff_ms: 20000,
    last_success_at: "2026-12-05T08:59:40.500Z",
    last_failure_at: "2026-12-05T09:00:20.000Z",
    queued: 1840,
  }),
  OperationalEventPage: withExamples(S.OperationalEventPageSchema, { data: [operationalEvent], next_cursor: null }),
  ...INGEST_MODELS,
  EventWithDeliveries: withExamples(S.EventWithDeliveriesSchema, {
    ...EVENT_EXAMPLE,
    timestamp: at,
    message_id: "msg_2b7Qx0f1kS9cV3hT",
    accepted_at: at,
    deliveries: [delivery],
  }),
  EventPage: withExamples(S.EventPageSchema, {
    data: [{ id: EVENT_EXAMPLE.id, type: EVENT_EXAMPLE.type, source: EVENT_EXAMPLE.source, timestamp: at, message_id: "msg_2b7Qx0f1kS9cV3hT", accepted_at: at }],
    next_cursor: "MTc5NjQ2MTIwMDAwMDpldnRfMDAwMQ",
  }),
  Delivery: withExamples(S.DeliverySchema, delivery),
  DeliveryPage: withExamples(S.DeliveryPageSchema, { data: [delivery], next_cursor: null }),
  Attempt: withExamples(S.AttemptSchema, attempt),
  AttemptList: withExamples(S.AttemptListSchema, { data: [attempt] }),
  LoginInput: withExamples(S.LoginInputSchema, { username: "admin", password: "your-admin-password" }),
  LoginToken: withExamples(S.LoginTokenSchema, token),
  OAuthToken: withExamples(S.OAuthTokenSchema, { ...token, scope: "events:write" }),
  OAuthError: withExamples(S.OAuthErrorSchema, { error: "invalid_client", error_description: "unknown client" }),
  Customer: withExamples(S.CustomerSchema, customer),
  CustomerInput: withExamples(S.CustomerInputSchema, { id: "acme", name: "Acme Inc." }),
  CustomerPage: withExamples(S.CustomerPageSchema, { data: [customer], next_cursor: null }),
  ApiKeyInput: withExamples(S.ApiKeyInputSchema, { name: "acme producer", scopes: ["events:write"], expires_at: "2030-06-01T00:00:00Z" }),
  ApiKey: withExamples(S.ApiKeySchema, apiKey),
  ApiKeyCreated: withExamples(S.ApiKeyCreatedSchema, { ...apiKey, key: "hrk_9c1f2e3d5a6b7c8d9e0f1a2b3c4d5e6f" }),
  ApiKeyList: withExamples(S.ApiKeyListSchema, { data: [apiKey] }),
  PortalLinkInput: withExamples(PortalLinkSchema, { expires_in: 3600 }),
  PortalLink: withExamples(S.PortalLinkSchema, {
    url: "https://hooks.example.com/portal#token=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJwb3J0YWw6YWRtaW4ifQ.c2lnbmF0dXJl",
    expires_at: "2026-12-05T10:00:00.000Z",
    scopes: ["webhooks:read", "webhooks:write", "webhooks:secrets", "deliveries:read", "deliveries:write"],
  }),
} as const;

/**
 * A body shown in the document by its model and validated by the use case alone (not by Elysia
 * first): the gRPC registry shares the webhooks' rules, and one answer names every problem of shape
 * and of rule together (`extra: is not a known field; url: scheme 'ftp' is not http or https`).
 */
export const validatedByTheUseCase = (model: keyof typeof GATEWAY_MODELS, required = true) => ({
  required,
  content: { "application/json": { schema: { $ref: `#/components/schemas/${model}` } } },
});
