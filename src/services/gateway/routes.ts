/**
 * @module The gateway's REST API (port 8080): login, webhooks, events, deliveries, customers and
 * keys, OAuth, and its own description (/openapi.json, /docs). Paths, scopes and validation come
 * from the route table (operations.ts); these handlers only do the work.
 */
import { Elysia } from "elysia";
import { NotFoundError } from "../../domain/errors.ts";
import type { RequestContext } from "../../platform/http.ts";
import { clientIp } from "../../platform/http.ts";
import { login } from "../auth/login.ts";
import type { PasswordChecks } from "../auth/password-checks.ts";
import type { Tokens } from "../auth/tokens.ts";
import { eventRoutes, type IngestRouteDeps } from "../ingest/routes.ts";
import * as webhooks from "../webhooks/manage.ts";
import { type AccountDeps, accountHandlers } from "./accounts.ts";
import { DEFAULT_PAGE, type DeliveryDeps, getDelivery, listDeliveries, retryDelivery } from "./deliveries.ts";
import { type Handlers, mountOperations } from "./mount.ts";
import { issueToken } from "./oauth.ts";
import { openApiDocument } from "./openapi.ts";
import { describedBy } from "./openapi-docs.ts";
import { presentAttempt, presentDelivery, presentEvent, presentWebhook, presentWebhookWithSecret } from "./present.ts";

export interface GatewayDeps extends DeliveryDeps, webhooks.WebhookDeps, IngestRouteDeps, AccountDeps {
  tokens: Tokens;
  /** The process's cap on password verifications (login). */
  passwords: PasswordChecks;
  /** Signs /oauth/token's access tokens; absent = no OAuth endpoint (security.oauth2_enabled). */
  oauthTokens?: Tokens;
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
function noStore<T>(ctx: RequestContext, answer: T): T {
  ctx.set.headers["cache-control"] = "no-store";
  return answer;
}

export function gatewayRoutes(deps: GatewayDeps) {
  const { oauthTokens } = deps;
  const features = { oauth: oauthTokens !== undefined };
  const description = describedBy(openApiDocument({ features, limits: { maxEventBytes: deps.maxEventBytes, maxBatchEvents: deps.maxBatchEvents, maxBatchBytes: deps.maxBatchBytes } }));

  const handlers: Handlers = {
    login: ({ body, ctx }) => login(deps, body.username, body.password, clientIp(ctx, deps.trustForwardedFor)),
    // Mounted only when the feature is on, i.e. when oauthTokens is set.
    oauthToken: async ({ request }) => {
      if (!oauthTokens) throw new NotFoundError("route", "/oauth/token");
      return issueToken({ apiKeys: deps.apiKeys, oauthTokens }, request);
    },

    // Only create, rotate-secret and the secret's own read show a signing secret, never cached.
    createWebhook: async ({ principal, body, ctx }) => noStore(ctx, presentWebhookWithSecret(await webhooks.createWebhook(deps, principal, body))),
    listWebhooks: async ({ principal, query }) => {
      const page = await webhooks.listWebhooks(deps, principal, query.limit ?? DEFAULT_PAGE, query.cursor);
      return { data: page.data.map(presentWebhook), next_cursor: page.nextCursor };
    },
    getWebhook: async ({ principal, params }) => presentWebhook(await webhooks.getWebhook(deps, principal, params.id!)),
    getWebhookSecret: async ({ principal, params, ctx }) => noStore(ctx, { secret: (await webhooks.getWebhook(deps, principal, params.id!)).secret }),
    replaceWebhook: async ({ principal, params, body }) => presentWebhook(await webhooks.updateWebhook(deps, principal, params.id!, body, "replace")),
    updateWebhook: async ({ principal, params, body }) => presentWebhook(await webhooks.updateWebhook(deps, principal, params.id!, body, "merge")),
    deleteWebhook: async ({ principal, params }) => webhooks.deleteWebhook(deps, principal, params.id!),
    rotateSecret: async ({ principal, params, ctx }) => noStore(ctx, presentWebhookWithSecret(await webhooks.rotateSecret(deps, principal, params.id!))),

    getEvent: async ({ principal, params }) => {
      const event = await deps.store.getEvent(principal.customerId, params.id!);
      if (!event) throw new NotFoundError("event", params.id!);
      const deliveries = await deps.store.listDeliveries(principal.customerId, { eventId: event.id, limit: 1000 });
      return { ...presentEvent(event), deliveries: deliveries.data.map(presentDelivery) };
    },
    listDeliveries: async ({ principal, query }) => {
      const page = await listDeliveries(deps, principal, query);
      return { data: page.data.map(presentDelivery), next_cursor: page.nextCursor };
    },
    getDelivery: async ({ principal, params }) => presentDelivery(await getDelivery(deps, principal, params.id!)),
    listAttempts: async ({ principal, params }) => {
      const delivery = await getDelivery(deps, principal, params.id!);
      return { data: (await deps.store.listAttempts(delivery.id)).map(presentAttempt) };
    },
    retryDelivery: async ({ principal, params }) => presentDelivery(await retryDelivery(deps, principal, params.id!)),

    ...accountHandlers(deps),

    openapi: async ({ request }) => description.document(request),
    docs: async ({ request }) => description.page(request),
  };

  return (
    new Elysia({ name: "gateway" })
      .use(mountOperations(deps, handlers, features))
      // The table's sendEvent and sendBatch: ingest's own routes, under /api/v1.
      .use(eventRoutes(deps, "/api/v1"))
  );
}
