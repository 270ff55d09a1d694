/**
 * @module The gateway's route table: every operation it serves, with its method, path, access
 * (public, the client's rate limit only, or a bearer token holding a scope), query, body and
 * answers. The gateway registers its handlers from this table (path, method, scope, validators,
 * success status), and the OpenAPI document is generated from it, so the two cannot disagree.
 */
import type { Static, TObject, TSchema } from "@sinclair/typebox";
import type { Surface } from "../../platform/rate-gate.ts";
import type { Scope } from "../auth/scopes.ts";
import { documentedBatchSchema, EventInputSchema } from "../ingest/schema.ts";
import { WebhookInputSchema, WebhookPatchSchema } from "../webhooks/manage.ts";
import * as S from "./schemas.ts";

export type Access =
  | { kind: "public" }
  /** No credentials; the client IP's bucket of `surface` applies (login, OAuth). */
  | { kind: "client"; surface: Surface }
  | { kind: "bearer"; surface: Surface; scope: Scope };

/** The limits the configuration sets, which the document states. */
export interface Limits {
  maxEventBytes: number;
  maxBatchEvents: number;
  maxBatchBytes: number;
}

export interface RequestBody {
  schema: TSchema | ((limits: Limits) => TSchema);
  example: unknown;
  /**
   * route: the table's handler wrapper validates it with `schema`; use-case: handed raw to a use
   * case that validates it with this very schema object; handler: the handler reads the request.
   */
  parsedBy: "route" | "use-case" | "handler";
  contentType?: "application/json" | "application/x-www-form-urlencoded";
  /** Largest body: "small" is the gateway's 64 KiB, the others the configured event limits. */
  size: "small" | "event" | "batch";
}

export interface Answer {
  status: number;
  description: string;
  schema?: TSchema;
  /** application/json when there is a schema, unless said otherwise. */
  contentType?: string;
}

export type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 422 | 429 | 503;

export interface Operation {
  method: "get" | "post" | "put" | "patch" | "delete";
  /** OpenAPI form (`{id}`); Elysia's `:id` is made from it. */
  path: string;
  tag: Tag;
  summary: string;
  description?: string;
  access: Access;
  /** Who registers the route: this table's handlers, ingest's event routes, or the HTTP bootstrap. */
  servedBy: "gateway" | "ingest" | "platform";
  /** Served only when that feature is on. */
  feature?: "oauth";
  /** Path parameters, name → description (every `{name}` in `path`). */
  params?: Record<string, string>;
  query?: TObject;
  body?: RequestBody;
  /** The usual success answer: what the handler returns, with this status. */
  ok: Answer;
  /** Other answers that are not the error shape (a duplicate's 200, an unhealthy 503). */
  also?: readonly Answer[];
  /** Errors beyond those that follow from access, body, query and params: status → when. */
  errors?: Partial<Record<ErrorStatus, string>>;
}

export const TAGS = {
  auth: "Authentication",
  webhooks: "Webhooks",
  events: "Events",
  deliveries: "Deliveries",
  accounts: "Customers and API keys",
  service: "Service",
} as const;
export type Tag = keyof typeof TAGS;

const api = (scope: Scope) => ({ kind: "bearer", surface: "api", scope }) as const;
const webhookId = { id: "the webhook's id (`wh_…`)" };
const deliveryId = { id: "the delivery's id" };
const customerId = { id: "the customer's id" };

const webhookExample = {
  url: "https://example.com/hooks/orders",
  event_types: ["order.created", "order.paid"],
  headers: { "x-team": "billing" },
  description: "order events for billing",
};
const eventExample = { id: "evt_0001", type: "order.created", source: "shop", data: { order_id: 42, total: "19.90" } };

export const OPERATIONS = {
  login: {
    method: "post",
    path: "/auth/login",
    tag: "auth",
    servedBy: "gateway",
    summary: "Log in with a password; get a JWT",
    description:
      "The admin user is `admin`. Its token holds the `admin` scope, which includes every other. Wrong username or password: 401 (the same answer for both). Password checks have a budget of their own per client IP and per username (`security.login_attempts_per_minute_*`), and each process verifies a few at a time; refusals (429, 503) are answered after one second.",
    access: { kind: "client", surface: "api" },
    body: { schema: S.LoginInputSchema, example: { username: "admin", password: "your-admin-password" }, parsedBy: "route", size: "small" },
    ok: { status: 200, description: "A bearer token", schema: S.LoginTokenSchema },
    errors: {
      401: "wrong username or password",
      429: "the client IP spent its request rate, or the client IP or the username its budget of password checks (`rate_limited`); `Retry-After` says when to come back",
      503: "too many password checks waiting in this process (`unavailable`); `Retry-After: 1`",
    },
  },
  oauthToken: {
    method: "post",
    path: "/oauth/token",
    tag: "auth",
    servedBy: "gateway",
    feature: "oauth",
    summary: "OAuth 2.0 client credentials: an API key's id and secret for a short-lived JWT",
    description:
      'RFC 6749 §4.4. The client id is an API key\'s `id`, the secret the key (`hrk_…`), sent as HTTP Basic or in the form body (once). Errors are RFC 6749 §5.2\'s `{"error","error_description"}`, not the API\'s error shape; answers carry `Cache-Control: no-store`. Only with `security.oauth2_enabled`.',
    access: { kind: "client", surface: "api" },
    body: {
      schema: S.OAuthTokenFormSchema,
      example: { grant_type: "client_credentials", client_id: "key_…", client_secret: "hrk_…", scope: "events:write" },
      parsedBy: "handler",
      contentType: "application/x-www-form-urlencoded",
      size: "small",
    },
    ok: { status: 200, description: "An access token with the granted scopes", schema: S.OAuthTokenSchema },
    also: [
      { status: 400, description: "invalid_request, unsupported_grant_type or invalid_scope", schema: S.OAuthErrorSchema },
      { status: 401, description: "invalid_client: unknown, revoked or mismatched credentials (with `WWW-Authenticate: Basic` when they came as Basic)", schema: S.OAuthErrorSchema },
    ],
  },

  createWebhook: {
    method: "post",
    path: "/api/v1/webhooks",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Create a webhook",
    description:
      "The answer holds the signing secret (given, or generated), with `Cache-Control: no-store`; later reads leave it out (`GET /api/v1/webhooks/{id}/secret` shows it, with `webhooks:secrets`). A target that resolves to a private or loopback address is refused (422) unless `HOOKRELAY_ALLOW_PRIVATE_TARGETS=true`.",
    access: api("webhooks:write"),
    body: { schema: WebhookInputSchema, example: webhookExample, parsedBy: "use-case", size: "small" },
    ok: { status: 201, description: "The webhook, with its signing secret", schema: S.WebhookWithSecretSchema },
  },
  listWebhooks: {
    method: "get",
    path: "/api/v1/webhooks",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "List webhooks, newest first",
    description: "Without their signing secrets.",
    access: api("webhooks:read"),
    query: S.PageQuerySchema,
    ok: { status: 200, description: "A page of webhooks", schema: S.WebhookPageSchema },
  },
  getWebhook: {
    method: "get",
    path: "/api/v1/webhooks/{id}",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Get a webhook",
    description: "Without its signing secret: that is `GET /api/v1/webhooks/{id}/secret`, with its own scope.",
    access: api("webhooks:read"),
    params: webhookId,
    ok: { status: 200, description: "The webhook", schema: S.WebhookSchema },
  },
  getWebhookSecret: {
    method: "get",
    path: "/api/v1/webhooks/{id}/secret",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Get a webhook's signing secret",
    description: "Needs `webhooks:secrets` (or `admin`): `webhooks:read` and `webhooks:write` do not show it. Answered with `Cache-Control: no-store`.",
    access: api("webhooks:secrets"),
    params: webhookId,
    ok: { status: 200, description: "The secret receivers verify signatures with", schema: S.WebhookSecretSchema },
  },
  replaceWebhook: {
    method: "put",
    path: "/api/v1/webhooks/{id}",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Replace a webhook",
    description: "`url` and `event_types` are required; omitted `headers`, `description` and `status` are reset; the secret is kept unless given.",
    access: api("webhooks:write"),
    params: webhookId,
    body: { schema: WebhookInputSchema, example: webhookExample, parsedBy: "use-case", size: "small" },
    ok: { status: 200, description: "The webhook as it is now", schema: S.WebhookSchema },
  },
  updateWebhook: {
    method: "patch",
    path: "/api/v1/webhooks/{id}",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Change some fields of a webhook",
    access: api("webhooks:write"),
    params: webhookId,
    body: { schema: WebhookPatchSchema, example: { status: "disabled" }, parsedBy: "use-case", size: "small" },
    ok: { status: 200, description: "The webhook as it is now", schema: S.WebhookSchema },
  },
  deleteWebhook: {
    method: "delete",
    path: "/api/v1/webhooks/{id}",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Delete a webhook",
    access: api("webhooks:write"),
    params: webhookId,
    ok: { status: 204, description: "Deleted" },
  },
  rotateSecret: {
    method: "post",
    path: "/api/v1/webhooks/{id}/rotate-secret",
    tag: "webhooks",
    servedBy: "gateway",
    summary: "Replace a webhook's signing secret with a new random one",
    description: "The next attempt is signed with the new secret only. The answer holds it, with `Cache-Control: no-store`.",
    access: api("webhooks:write"),
    params: webhookId,
    ok: { status: 200, description: "The webhook with its new secret", schema: S.WebhookWithSecretSchema },
  },

  sendEvent: {
    method: "post",
    path: "/api/v1/events",
    tag: "events",
    servedBy: "ingest",
    summary: "Send an event",
    description: "Answered once the event is durable; every matching webhook gets it at least once. The same ingest route as port 8082's `POST /events`.",
    access: { kind: "bearer", surface: "ingest", scope: "events:write" },
    body: { schema: EventInputSchema, example: eventExample, parsedBy: "use-case", size: "event" },
    ok: { status: 202, description: "Accepted", schema: S.EventAcceptedSchema },
    also: [{ status: 200, description: "A duplicate: this id was accepted before; it is not delivered again", schema: S.EventAcceptedSchema }],
    errors: { 503: "the event could not be stored, or ingest is at capacity (`Retry-After`); nothing was kept" },
  },
  sendBatch: {
    method: "post",
    path: "/api/v1/events/batch",
    tag: "events",
    servedBy: "ingest",
    summary: "Send a batch of events",
    description: "All or nothing on validation: one invalid event refuses the whole batch, naming it (`events[3].type: …`). Each event counts against the customer's ingest rate limit.",
    access: { kind: "bearer", surface: "ingest", scope: "events:write" },
    body: { schema: (limits) => documentedBatchSchema(limits.maxBatchEvents), example: { events: [eventExample] }, parsedBy: "use-case", size: "batch" },
    ok: { status: 202, description: "Accepted (duplicates are counted and named, not delivered again)", schema: S.BatchAcceptedSchema },
    errors: { 503: "the events could not be stored, or ingest is at capacity (`Retry-After`); nothing was kept" },
  },
  getEvent: {
    method: "get",
    path: "/api/v1/events/{id}",
    tag: "events",
    servedBy: "gateway",
    summary: "Get an event with its deliveries",
    access: api("deliveries:read"),
    params: { id: "the event's id, as its producer sent it" },
    ok: { status: 200, description: "The event and its deliveries", schema: S.EventWithDeliveriesSchema },
  },

  listDeliveries: {
    method: "get",
    path: "/api/v1/deliveries",
    tag: "deliveries",
    servedBy: "gateway",
    summary: "List deliveries, filtered by webhook, event or status",
    description: "A delivery is listed from the outcome of its first attempt on (or from when it waits behind a slow endpoint).",
    access: api("deliveries:read"),
    query: S.DeliveryQuerySchema,
    ok: { status: 200, description: "A page of deliveries", schema: S.DeliveryPageSchema },
  },
  getDelivery: {
    method: "get",
    path: "/api/v1/deliveries/{id}",
    tag: "deliveries",
    servedBy: "gateway",
    summary: "Get a delivery",
    access: api("deliveries:read"),
    params: deliveryId,
    ok: { status: 200, description: "The delivery", schema: S.DeliverySchema },
  },
  listAttempts: {
    method: "get",
    path: "/api/v1/deliveries/{id}/attempts",
    tag: "deliveries",
    servedBy: "gateway",
    summary: "List a delivery's attempts, first first",
    access: api("deliveries:read"),
    params: deliveryId,
    ok: { status: 200, description: "Every attempt", schema: S.AttemptListSchema },
  },
  retryDelivery: {
    method: "post",
    path: "/api/v1/deliveries/{id}/retry",
    tag: "deliveries",
    servedBy: "gateway",
    summary: "Retry a delivery now (a new round of tries, whatever its status)",
    access: api("deliveries:write"),
    params: deliveryId,
    ok: { status: 202, description: "Queued", schema: S.DeliverySchema },
  },

  createCustomer: {
    method: "post",
    path: "/api/v1/customers",
    tag: "accounts",
    servedBy: "gateway",
    summary: "Create a customer (tenant)",
    access: api("admin"),
    body: { schema: S.CustomerInputSchema, example: { id: "acme", name: "Acme Inc." }, parsedBy: "route", size: "small" },
    ok: { status: 201, description: "The customer", schema: S.CustomerSchema },
    errors: { 409: "a customer with that id exists already" },
  },
  listCustomers: {
    method: "get",
    path: "/api/v1/customers",
    tag: "accounts",
    servedBy: "gateway",
    summary: "List customers",
    access: api("admin"),
    query: S.PageQuerySchema,
    ok: { status: 200, description: "A page of customers", schema: S.CustomerPageSchema },
  },
  getCustomer: {
    method: "get",
    path: "/api/v1/customers/{id}",
    tag: "accounts",
    servedBy: "gateway",
    summary: "Get a customer",
    access: api("admin"),
    params: customerId,
    ok: { status: 200, description: "The customer", schema: S.CustomerSchema },
  },
  createApiKey: {
    method: "post",
    path: "/api/v1/customers/{id}/api-keys",
    tag: "accounts",
    servedBy: "gateway",
    summary: "Issue an API key for a customer (the key is shown once)",
    access: api("admin"),
    params: customerId,
    body: { schema: S.ApiKeyInputSchema, example: { name: "acme producer", scopes: ["events:write"], expires_at: "2030-06-01T00:00:00Z" }, parsedBy: "route", size: "small" },
    ok: { status: 201, description: "The key's fields and the key", schema: S.ApiKeyCreatedSchema },
  },
  listApiKeys: {
    method: "get",
    path: "/api/v1/customers/{id}/api-keys",
    tag: "accounts",
    servedBy: "gateway",
    summary: "List a customer's API keys (prefix only, never the key)",
    access: api("admin"),
    params: customerId,
    ok: { status: 200, description: "The keys", schema: S.ApiKeyListSchema },
  },
  revokeApiKey: {
    method: "delete",
    path: "/api/v1/customers/{id}/api-keys/{key_id}",
    tag: "accounts",
    servedBy: "gateway",
    summary: "Revoke an API key",
    description: "At once in this process, within 5 seconds in every other.",
    access: api("admin"),
    params: { ...customerId, key_id: "the key's id (`key_…`)" },
    ok: { status: 204, description: "Revoked" },
  },

  health: {
    method: "get",
    path: "/health",
    tag: "service",
    servedBy: "platform",
    summary: "Health: 200, or 503 naming the failing dependency",
    access: { kind: "public" },
    ok: { status: 200, description: "Every dependency answers", schema: S.HealthSchema },
    also: [{ status: 503, description: "A dependency fails", schema: S.HealthSchema }],
  },
  metrics: {
    method: "get",
    path: "/metrics",
    tag: "service",
    servedBy: "platform",
    summary: "Prometheus metrics of this process",
    access: { kind: "public" },
    ok: { status: 200, description: "Prometheus text exposition format", contentType: "text/plain" },
  },
  openapi: {
    method: "get",
    path: "/openapi.json",
    tag: "service",
    servedBy: "gateway",
    summary: "This document (OpenAPI 3.1)",
    access: { kind: "public" },
    ok: { status: 200, description: "The OpenAPI document", contentType: "application/json" },
  },
  docs: {
    method: "get",
    path: "/docs",
    tag: "service",
    servedBy: "gateway",
    summary: "The API reference for people, rendered from /openapi.json",
    access: { kind: "public" },
    ok: { status: 200, description: "A self-contained HTML page", contentType: "text/html" },
  },
} as const satisfies Record<string, Operation>;

export type OperationId = keyof typeof OPERATIONS;

/** The operations served with the given features on. */
export function enabledOperations(features: { oauth: boolean }): [OperationId, Operation][] {
  return (Object.entries(OPERATIONS) as [OperationId, Operation][]).filter(([, op]) => op.feature !== "oauth" || features.oauth);
}

/** Elysia's form of an OpenAPI path: `{id}` → `:id`. */
export const routerPath = (path: string) => path.replace(/\{(\w+)\}/g, ":$1");

type StaticOf<T> = T extends TSchema ? Static<T> : undefined;

/** The parsed body a handler gets: validated (route), raw (use case validates), or none (handler reads). */
export type BodyOf<O> = O extends { body: { parsedBy: "route"; schema: infer B } } ? StaticOf<B> : O extends { body: { parsedBy: "use-case" } } ? unknown : undefined;
export type QueryOf<O> = O extends { query: infer Q } ? StaticOf<Q> : undefined;
/** What a handler returns: the `ok` answer's shape (a Response when it answers by itself). */
export type AnswerOf<O> = O extends { ok: { schema: infer A } } ? StaticOf<A> | Response : O extends { ok: { status: 204 } } ? void : Response;
