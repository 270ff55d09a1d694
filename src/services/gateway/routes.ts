/** @module The gateway's REST API (port 8080): login, webhooks, events, deliveries. */
import { Type } from "@sinclair/typebox";
import { Elysia } from "elysia";
import { NotFoundError } from "../../domain/errors.ts";
import { type RequestContext, readJson } from "../../platform/http.ts";
import { compile } from "../../platform/validate.ts";
import { login } from "../auth/login.ts";
import { authorize, limitClient } from "../auth/guard.ts";
import type { Scope } from "../auth/scopes.ts";
import type { Principal, Tokens } from "../auth/tokens.ts";
import { type AccountDeps, accountRoutes } from "./accounts.ts";
import { oauthRoutes } from "./oauth.ts";
import { type IngestRouteDeps, eventRoutes } from "../ingest/routes.ts";
import * as webhooks from "../webhooks/manage.ts";
import { type DeliveryDeps, DEFAULT_PAGE, getDelivery, listDeliveries, numericLimit, pageQuery, retryDelivery } from "./deliveries.ts";
import { presentAttempt, presentDelivery, presentEvent, presentWebhook } from "./present.ts";

export interface GatewayDeps extends DeliveryDeps, webhooks.WebhookDeps, IngestRouteDeps, AccountDeps {
  tokens: Tokens;
  /** Signs /oauth/token's access tokens; absent = no OAuth endpoint (security.oauth2_enabled). */
  oauthTokens?: Tokens;
}

const SMALL_BODY = 64 * 1024;

const loginInput = compile(
  Type.Object(
    { username: Type.String({ minLength: 1, maxLength: 256 }), password: Type.String({ minLength: 1, maxLength: 1024 }) },
    { additionalProperties: false, errorMessage: "must be {\"username\", \"password\"}" },
  ),
);

export function gatewayRoutes(deps: GatewayDeps) {
  const caller = (ctx: RequestContext, scope: Scope): Promise<Principal> => authorize(deps, ctx, "api", scope);
  const body = (request: Request) => readJson(request, SMALL_BODY);

  return new Elysia({ name: "gateway" })
    .post(
      "/auth/login",
      async ({ request, set, server }) => {
        await limitClient(deps, { request, set, server }, "api");
        const input = loginInput.parse(await body(request));
        return login(deps, input.username, input.password);
      },
      { parse: "none" },
    )
    .post(
      "/api/v1/webhooks",
      async ({ request, set, server }) => {
        const principal = await caller({ request, set, server }, "webhooks:write");
        set.status = 201;
        return presentWebhook(await webhooks.createWebhook(deps, principal, await body(request)));
      },
      { parse: "none" },
    )
    .get("/api/v1/webhooks", async ({ request, query, set, server }) => {
      const principal = await caller({ request, set, server }, "webhooks:read");
      const q = pageQuery.parse(numericLimit(query), "query");
      const page = await webhooks.listWebhooks(deps, principal, q.limit ?? DEFAULT_PAGE, q.cursor);
      return { data: page.data.map(presentWebhook), next_cursor: page.nextCursor };
    })
    .get("/api/v1/webhooks/:id", async ({ request, params, set, server }) => {
      const principal = await caller({ request, set, server }, "webhooks:read");
      return presentWebhook(await webhooks.getWebhook(deps, principal, params.id));
    })
    .put(
      "/api/v1/webhooks/:id",
      async ({ request, params, set, server }) => {
        const principal = await caller({ request, set, server }, "webhooks:write");
        return presentWebhook(await webhooks.updateWebhook(deps, principal, params.id, await body(request), "replace"));
      },
      { parse: "none" },
    )
    .patch(
      "/api/v1/webhooks/:id",
      async ({ request, params, set, server }) => {
        const principal = await caller({ request, set, server }, "webhooks:write");
        return presentWebhook(await webhooks.updateWebhook(deps, principal, params.id, await body(request), "merge"));
      },
      { parse: "none" },
    )
    .delete("/api/v1/webhooks/:id", async ({ request, params, set, server }) => {
      const principal = await caller({ request, set, server }, "webhooks:write");
      await webhooks.deleteWebhook(deps, principal, params.id);
      set.status = 204;
      return "";
    })
    .post(
      "/api/v1/webhooks/:id/rotate-secret",
      async ({ request, params, set, server }) => {
        const principal = await caller({ request, set, server }, "webhooks:write");
        return presentWebhook(await webhooks.rotateSecret(deps, principal, params.id));
      },
      { parse: "none" },
    )
    .use(eventRoutes(deps, "/api/v1"))
    .use(accountRoutes(deps, { caller, body }))
    .use(deps.oauthTokens ? oauthRoutes({ ...deps, oauthTokens: deps.oauthTokens }) : new Elysia({ name: "gateway-no-oauth" }))
    .get("/api/v1/events/:id", async ({ request, params, set, server }) => {
      const principal = await caller({ request, set, server }, "deliveries:read");
      const event = await deps.store.getEvent(principal.customerId, params.id);
      if (!event) throw new NotFoundError("event", params.id);
      const deliveries = await deps.store.listDeliveries(principal.customerId, { eventId: event.id, limit: 1000 });
      return { ...presentEvent(event), deliveries: deliveries.data.map(presentDelivery) };
    })
    .get("/api/v1/deliveries", async ({ request, query, set, server }) => {
      const principal = await caller({ request, set, server }, "deliveries:read");
      const page = await listDeliveries(deps, principal, query);
      return { data: page.data.map(presentDelivery), next_cursor: page.nextCursor };
    })
    .get("/api/v1/deliveries/:id", async ({ request, params, set, server }) => {
      const principal = await caller({ request, set, server }, "deliveries:read");
      return presentDelivery(await getDelivery(deps, principal, params.id));
    })
    .get("/api/v1/deliveries/:id/attempts", async ({ request, params, set, server }) => {
      const principal = await caller({ request, set, server }, "deliveries:read");
      const delivery = await getDelivery(deps, principal, params.id);
      return { data: (await deps.store.listAttempts(delivery.id)).map(presentAttempt) };
    })
    .post(
      "/api/v1/deliveries/:id/retry",
      async ({ request, params, set, server }) => {
        const principal = await caller({ request, set, server }, "deliveries:write");
        set.status = 202;
        return presentDelivery(await retryDelivery(deps, principal, params.id));
      },
      { parse: "none" },
    );
}
