/**
 * @module The gateway's REST API (port 8080): login, webhooks, events, deliveries, and OAuth. Each
 * route is declared once, the Elysia way: its path, who may call it (the `bearer` and `client`
 * macros), the schemas Elysia validates its params, query and body with, its answers, and its
 * `detail` for the OpenAPI document, which is made from these very routes.
 */
import { Elysia, t } from "elysia";
import { NotFoundError } from "../../domain/errors.ts";
import type { RequestContext } from "../../platform/http.ts";
import { clientIp } from "../../platform/http.ts";
import { accessControl } from "../auth/access.ts";
import { login } from "../auth/login.ts";
import type { PasswordChecks } from "../auth/password-checks.ts";
import type { Tokens } from "../auth/tokens.ts";
import type { CatalogDeps } from "../catalog/manage.ts";
import { resumeByHand, webhookHealth } from "../health/status.ts";
import { eventRoutes, type IngestRouteDeps } from "../ingest/routes.ts";
import { testFilter } from "../webhooks/filter-test.ts";
import * as webhooks from "../webhooks/manage.ts";
import { type TestSendDeps, testSend } from "../webhooks/test-send.ts";
import { type AccountDeps, accountRoutes } from "./accounts.ts";
import { catalogRoutes } from "./catalog.ts";
import { DEFAULT_PAGE, type DeliveryDeps, getDelivery, listDeliveries, listEvents, listWebhookDeliveries, retryDelivery } from "./deliveries.ts";
import { GATEWAY_MODELS, SMALL_BODY, TAGS, validatedByTheUseCase } from "./models.ts";
import { issueToken } from "./oauth.ts";
import { operationalRoutes } from "./operational.ts";
import { type PortalPageDeps, portalRoutes } from "./portal.ts";
import { page, presentAttempt, presentDelivery, presentEvent, presentEventSummary, presentHealth, presentOperationalEvent, presentWebhook, presentWebhookWithSecret } from "./present.ts";
import { recoveryRoutes } from "./recovery.ts";
import { DeliveryQuerySchema, EventQuerySchema, OAuthTokenFormSchema, OperationalEventQuerySchema, PageQuerySchema, WebhookDeliveryQuerySchema } from "./schemas.ts";

export interface GatewayDeps extends DeliveryDeps, webhooks.WebhookDeps, IngestRouteDeps, AccountDeps, TestSendDeps, CatalogDeps, PortalPageDeps {
  tokens: Tokens;
  /** The process's cap on password verifications (login). */
  passwords: PasswordChecks;
  /** Signs /oauth/token's access tokens; absent = no OAuth endpoint (security.oauth2_enabled). */
  oauthTokens?: Tokens;
  /** A resumed webhook's held deliveries come due this many a second (endpoint_health.drain_per_second). */
  drainPerSecond: number;
}

/**
 * The 404 message for `POST /events` or `/events/batch` sent to the gateway's port (a producer
 * that took the gateway for ingest): where events go, on this host, instead of "no route".
 * `ingestPort` is asked per request: with port 0 configured, the port ingest got.
 */
export function eventsGoToIngest(ingestPort: () => number): (request: Request) => string | null {
  return (request) => {
    const url = new URL(request.url);
    const path = url.pathname.replace(/\/+$/, "");
    if (request.method !== "POST" || (path !== "/events" && path !== "/events/batch")) return null;
    return `events are accepted by the ingest role: POST ${url.protocol}//${url.hostname}:${ingestPort()}${path} (or POST /api/v1${path} on this gateway)`;
  };
}

/** An answer holding a signing secret: no cache or proxy may keep it. */
function noStore<T>(ctx: Pick<RequestContext, "set">, answer: T): T {
  ctx.set.headers["cache-control"] = "no-store";
  return answer;
}

const WebhookId = t.Object({ id: t.String({ description: "the webhook's id (`wh_…`)" }) });
const DeliveryId = t.Object({ id: t.String({ description: "the delivery's id" }) });

function authRoutes(deps: GatewayDeps) {
  const { oauthTokens } = deps;
  const app = new Elysia({ name: "gateway-auth", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post("/auth/login", ({ body, request, set, server }) => login(deps, body.username, body.password, clientIp({ request, set, server }, deps.trustForwardedFor)), {
      client: { surface: "api", body: SMALL_BODY },
      body: "LoginInput",
      response: { 200: "LoginToken" },
      detail: {
        operationId: "login",
        tags: [TAGS.auth],
        summary: "Log in with a password; get a JWT",
        description:
          "The admin user is `admin`. Its token holds the `admin` scope, which includes every other. Wrong username or password: 401 (the same answer for both). Password checks have a budget of their own per client IP and per username (`security.login_attempts_per_minute_*`), and each process verifies a few at a time; refusals (429, 503) are answered after one second.",
        "x-errors": {
          401: "wrong username or password",
          429: "the client IP spent its request rate, or the client IP or the username its budget of password checks (`rate_limited`); `Retry-After` says when to come back",
          503: "too many password checks waiting in this process (`unavailable`); `Retry-After: 1`",
        },
      },
    });
  if (!oauthTokens) return app;
  return app.post("/oauth/token", ({ request }) => issueToken({ apiKeys: deps.apiKeys, oauthTokens }, request), {
    client: { surface: "api" },
    // RFC 6749's form, read by issueToken (its errors are the RFC's, not the API's error shape).
    parse: "none",
    detail: {
      operationId: "oauthToken",
      tags: [TAGS.auth],
      summary: "OAuth 2.0 client credentials: an API key's id and secret for a short-lived JWT",
      description:
        'RFC 6749 §4.4. The client id is an API key\'s `id`, the secret the key (`hrk_…`), sent as HTTP Basic or in the form body (once). Errors are RFC 6749 §5.2\'s `{"error","error_description"}`, not the API\'s error shape; answers carry `Cache-Control: no-store`. Only with `security.oauth2_enabled`.',
      security: [{}, { clientBasic: [] }],
      requestBody: {
        required: true,
        content: {
          "application/x-www-form-urlencoded": {
            schema: OAuthTokenFormSchema,
            example: { grant_type: "client_credentials", client_id: "key_…", client_secret: "hrk_…", scope: "events:write" },
          },
        },
      },
      "x-errors": {},
    },
    response: {
      200: "OAuthToken",
      400: t.Ref("#/components/schemas/OAuthError", { description: "invalid_request, unsupported_grant_type or invalid_scope" }),
      401: t.Ref("#/components/schemas/OAuthError", { description: "invalid_client: unknown, revoked or mismatched credentials (with `WWW-Authenticate: Basic` when they came as Basic)" }),
    },
  });
}

function webhookRoutes(deps: GatewayDeps) {
  const write = { scope: "webhooks:write", body: SMALL_BODY } as const;
  return new Elysia({ name: "gateway-webhooks", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/webhooks",
      async ({ principal, body, set }) => {
        const created = await webhooks.createWebhook(deps, principal, body);
        set.status = 201;
        return noStore({ set }, presentWebhookWithSecret(created));
      },
      {
        bearer: write,
        response: { 201: "WebhookWithSecret" },
        detail: {
          operationId: "createWebhook",
          requestBody: validatedByTheUseCase("WebhookInput"),
          tags: [TAGS.webhooks],
          summary: "Create a webhook",
          description:
            "The answer holds the signing secret (given, or generated), with `Cache-Control: no-store`; later reads leave it out (`GET /api/v1/webhooks/{id}/secret` shows it, with `webhooks:secrets`). A target that resolves to a private or loopback address is refused (422) unless `HOOKRELAY_ALLOW_PRIVATE_TARGETS=true`.",
        },
      },
    )
    .get(
      "/api/v1/webhooks",
      async ({ principal, query }) => {
        const found = await webhooks.listWebhooks(deps, principal, query.limit ?? DEFAULT_PAGE, query.cursor);
        return page(found, presentWebhook);
      },
      {
        bearer: { scope: "webhooks:read" },
        query: PageQuerySchema,
        response: { 200: "WebhookPage" },
        detail: { operationId: "listWebhooks", tags: [TAGS.webhooks], summary: "List webhooks, newest first", description: "Without their signing secrets." },
      },
    )
    .get("/api/v1/webhooks/:id", async ({ principal, params }) => presentWebhook(await webhooks.getWebhook(deps, principal, params.id)), {
      bearer: { scope: "webhooks:read" },
      params: WebhookId,
      response: { 200: "Webhook" },
      detail: {
        operationId: "getWebhook",
        tags: [TAGS.webhooks],
        summary: "Get a webhook",
        description: "Without its signing secret: that is `GET /api/v1/webhooks/{id}/secret`, with its own scope.",
      },
    })
    .get("/api/v1/webhooks/:id/secret", async ({ principal, params, set }) => noStore({ set }, { secret: (await webhooks.getWebhook(deps, principal, params.id)).secret }), {
      bearer: { scope: "webhooks:secrets" },
      params: WebhookId,
      response: { 200: "WebhookSecret" },
      detail: {
        operationId: "getWebhookSecret",
        tags: [TAGS.webhooks],
        summary: "Get a webhook's signing secret",
        description: "Needs `webhooks:secrets` (or `admin`): `webhooks:read` and `webhooks:write` do not show it. Answered with `Cache-Control: no-store`.",
      },
    })
    .put("/api/v1/webhooks/:id", async ({ principal, params, body }) => presentWebhook(await webhooks.updateWebhook(deps, principal, params.id, body, "replace")), {
      bearer: write,
      params: WebhookId,
      response: { 200: "Webhook" },
      detail: {
        operationId: "replaceWebhook",
        requestBody: validatedByTheUseCase("WebhookInput"),
        tags: [TAGS.webhooks],
        summary: "Replace a webhook",
        description: "`url` and `event_types` are required; omitted `headers`, `description` and `status` are reset; the secret is kept unless given.",
      },
    })
    .patch("/api/v1/webhooks/:id", async ({ principal, params, body }) => presentWebhook(await webhooks.updateWebhook(deps, principal, params.id, body, "merge")), {
      bearer: write,
      params: WebhookId,
      response: { 200: "Webhook" },
      detail: { operationId: "updateWebhook", requestBody: validatedByTheUseCase("WebhookPatch"), tags: [TAGS.webhooks], summary: "Change some fields of a webhook" },
    })
    .delete(
      "/api/v1/webhooks/:id",
      async ({ principal, params, set }) => {
        await webhooks.deleteWebhook(deps, principal, params.id);
        set.status = 204;
      },
      {
        bearer: { scope: "webhooks:write" },
        params: WebhookId,
        response: { 204: t.Void({ description: "Deleted" }) },
        detail: { operationId: "deleteWebhook", tags: [TAGS.webhooks], summary: "Delete a webhook" },
      },
    )
    .get("/api/v1/webhooks/:id/health", async ({ principal, params }) => presentHealth(await webhookHealth(deps, principal, params.id)), {
      bearer: { scope: "webhooks:read" },
      params: WebhookId,
      response: { 200: "WebhookHealth" },
      detail: {
        operationId: "getWebhookHealth",
        tags: [TAGS.webhooks],
        summary: "Get a webhook's health: its state, failures, last success and failure, next probe, queued deliveries",
      },
    })
    .post("/api/v1/webhooks/:id/resume", async ({ principal, params }) => presentHealth(await resumeByHand(deps, principal, params.id)), {
      bearer: { scope: "webhooks:write" },
      params: WebhookId,
      response: { 200: "WebhookHealth" },
      detail: {
        operationId: "resumeWebhook",
        tags: [TAGS.webhooks],
        summary: "Make a paused or disabled webhook deliver again",
        description:
          "Paused: its circuit breaker closes (a `webhook.resumed` event) and its held deliveries come due at `endpoint_health.drain_per_second`, oldest event first. Disabled: it is enabled, and what waited for it is sent again. Healthy: nothing changes. Answers its health.",
      },
    })
    .get(
      "/api/v1/operational-events",
      async ({ principal, query }) =>
        page(await deps.store.listOperationalEvents(principal.customerId, { webhookId: query.webhook_id, limit: query.limit ?? DEFAULT_PAGE, cursor: query.cursor }), presentOperationalEvent),
      {
        bearer: { scope: "webhooks:read" },
        query: OperationalEventQuerySchema,
        response: { 200: "OperationalEventPage" },
        detail: {
          operationId: "listOperationalEvents",
          tags: [TAGS.webhooks],
          summary: "List what happened to the webhooks' health, newest first",
          description:
            "`webhook.disabled` when hookrelay disabled a webhook (its endpoint answered 410 Gone, or it kept failing); `webhook.paused` and `webhook.resumed` when its circuit breaker opened and closed; `recovery.finished` when a recovery of it ended.",
        },
      },
    )
    .post("/api/v1/webhooks/:id/test", async ({ principal, params, body }) => testSend(deps, principal, params.id, body), {
      bearer: write,
      params: WebhookId,
      response: { 200: "TestSendResult" },
      detail: {
        operationId: "testWebhook",
        requestBody: validatedByTheUseCase("TestSendInput"),
        tags: [TAGS.webhooks],
        summary: "Send a sample event of a type to the webhook now, and answer what its endpoint said",
        description:
          "The sample event (`source` `hookrelay.test`, `data.test` true) is signed as deliveries are and sent at once; the answer waits for the endpoint (10 s at most) and holds its status, the time it took, the first 1,024 characters of its answer, and the signature headers sent. It is not a delivery: nothing is stored or retried, and it counts in no metric. A 200 here says the send was made, whatever the endpoint answered (`succeeded`).",
      },
    })
    .post("/api/v1/webhooks/:id/filter/test", async ({ principal, params, body }) => testFilter(deps, principal, params.id, body), {
      bearer: { scope: "webhooks:read", body: SMALL_BODY },
      params: WebhookId,
      response: { 200: "FilterTestResult" },
      detail: {
        operationId: "testWebhookFilter",
        requestBody: validatedByTheUseCase("FilterTestInput"),
        tags: [TAGS.webhooks],
        summary: "Would the webhook receive this event? Try its event types and filter (or another filter) on a sample",
        description:
          "Decides as the dispatcher does: the event's type against the webhook's `event_types` (names, `prefix.*`, `*`), and the event as delivered (`id`, `type`, `source`, `data`, `timestamp`) against its `filter`, or against the `filter` given (tried, not saved: a bad one is refused with 422 naming the operator or path). Nothing is sent.",
      },
    })
    .post(
      "/api/v1/webhooks/:id/rotate-secret",
      async ({ principal, params, body, set }) => noStore({ set }, presentWebhookWithSecret(await webhooks.rotateSecret(deps, principal, params.id, body === undefined ? {} : body))),
      {
        bearer: { scope: "webhooks:write" },
        params: WebhookId,
        response: { 200: "WebhookWithSecret" },
        detail: {
          operationId: "rotateSecret",
          requestBody: validatedByTheUseCase("RotateSecretInput", false),
          tags: [TAGS.webhooks],
          summary: "Replace a webhook's signing secret, keeping the old one signing for a grace period",
          description:
            "A new random secret (or the one given). Until `grace_period_seconds` (default 86400, 24 h) have passed, every delivery carries two signatures in `webhook-signature`, space separated: one with the new secret, one with the old (Standard Webhooks), so receivers switch without a failed check; `previous_secret_expires_at` says until when. `0`: the new secret only, at once. The answer holds the new secret, with `Cache-Control: no-store`.",
        },
      },
    );
}

function deliveryRoutes(deps: GatewayDeps) {
  const read = { scope: "deliveries:read" } as const;
  return new Elysia({ name: "gateway-deliveries", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .get(
      "/api/v1/events/:id",
      async ({ principal, params }) => {
        const event = await deps.store.getEvent(principal.customerId, params.id);
        if (!event) throw new NotFoundError("event", params.id);
        const deliveries = await deps.store.listDeliveries(principal.customerId, { eventId: event.id, limit: 1000 });
        return { ...presentEvent(event), deliveries: deliveries.data.map(presentDelivery) };
      },
      {
        bearer: read,
        params: t.Object({ id: t.String({ description: "the event's id, as its producer sent it" }) }),
        response: { 200: "EventWithDeliveries" },
        detail: { operationId: "getEvent", tags: [TAGS.events], summary: "Get an event with its deliveries" },
      },
    )
    .get("/api/v1/events", async ({ principal, query }) => page(await listEvents(deps, principal, query), presentEventSummary), {
      bearer: read,
      query: EventQuerySchema,
      response: { 200: "EventPage" },
      detail: {
        operationId: "listEvents",
        tags: [TAGS.events],
        summary: "List events, newest first, by type, time and delivery status",
        description:
          "Each item names the event (no `data`: `GET /api/v1/events/{id}` has it and the deliveries). `since` and `until` bound the acceptance time. `delivery_status` keeps the events with a stored delivery that failed (`failed`) or is not finished (`pending`); such a page looks at 10,000 events at most, so it may hold fewer than `limit` (even none) and still have a `next_cursor` to go on with.",
      },
    })
    .get("/api/v1/webhooks/:id/deliveries", async ({ principal, params, query }) => page(await listWebhookDeliveries(deps, principal, params.id, query), presentDelivery), {
      bearer: read,
      params: t.Object({ id: t.String({ description: "the webhook's id" }) }),
      query: WebhookDeliveryQuerySchema,
      response: { 200: "DeliveryPage" },
      detail: {
        operationId: "listWebhookDeliveries",
        tags: [TAGS.deliveries],
        summary: "List a webhook's deliveries, newest event first, by status and time",
        description: "`since` and `until` bound the event's acceptance time. A delivery is listed from the outcome of its first attempt on (or from when it waits behind a slow endpoint).",
      },
    })
    .get(
      "/api/v1/deliveries",
      async ({ principal, query }) => {
        const found = await listDeliveries(deps, principal, query);
        return page(found, presentDelivery);
      },
      {
        bearer: read,
        query: DeliveryQuerySchema,
        response: { 200: "DeliveryPage" },
        detail: {
          operationId: "listDeliveries",
          tags: [TAGS.deliveries],
          summary: "List deliveries, filtered by webhook, event or status",
          description: "A delivery is listed from the outcome of its first attempt on (or from when it waits behind a slow endpoint).",
        },
      },
    )
    .get("/api/v1/deliveries/:id", async ({ principal, params }) => presentDelivery(await getDelivery(deps, principal, params.id)), {
      bearer: read,
      params: DeliveryId,
      response: { 200: "Delivery" },
      detail: { operationId: "getDelivery", tags: [TAGS.deliveries], summary: "Get a delivery" },
    })
    .get(
      "/api/v1/deliveries/:id/attempts",
      async ({ principal, params }) => {
        const delivery = await getDelivery(deps, principal, params.id);
        return { data: (await deps.store.listAttempts(delivery.id)).map(presentAttempt) };
      },
      {
        bearer: read,
        params: DeliveryId,
        response: { 200: "AttemptList" },
        detail: { operationId: "listAttempts", tags: [TAGS.deliveries], summary: "List a delivery's attempts, first first" },
      },
    )
    .post(
      "/api/v1/deliveries/:id/retry",
      async ({ principal, params, set }) => {
        set.status = 202;
        return presentDelivery(await retryDelivery(deps, principal, params.id));
      },
      {
        bearer: { scope: "deliveries:write" },
        params: DeliveryId,
        response: { 202: "Delivery" },
        detail: { operationId: "retryDelivery", tags: [TAGS.deliveries], summary: "Retry a delivery now (a new round of tries, whatever its status)" },
      },
    );
}

export function gatewayRoutes(deps: GatewayDeps) {
  return (
    new Elysia({ name: "gateway" })
      .use(authRoutes(deps))
      .use(webhookRoutes(deps))
      // Ingest's own event routes, under /api/v1.
      .use(eventRoutes(deps, "/api/v1"))
      .use(deliveryRoutes(deps))
      .use(accountRoutes(deps))
      .use(catalogRoutes(deps))
      .use(operationalRoutes(deps))
      .use(recoveryRoutes(deps))
      .use(portalRoutes(deps))
  );
}
