/**
 * @module The operator's operational webhooks (`/api/v1/operational-webhooks`, admin only): endpoints
 * that receive hookrelay's own events about every customer (services/operational/relay.ts). They are
 * webhooks of the operator's customer (OPERATOR_CUSTOMER_ID), made and changed by the webhooks'
 * own rules (SSRF, limits, signing, rotation), subscribed to operational event types only.
 */
import { Elysia, t } from "elysia";
import { ValidationError } from "../../domain/errors.ts";
import { OPERATIONAL_EVENT_TYPES, OPERATOR_CUSTOMER_ID } from "../../domain/model.ts";
import { accessControl } from "../auth/access.ts";
import type { Principal } from "../auth/tokens.ts";
import * as webhooks from "../webhooks/manage.ts";
import { GATEWAY_MODELS, SMALL_BODY, TAGS, validatedByTheUseCase } from "./models.ts";
import { page, presentWebhook, presentWebhookWithSecret } from "./present.ts";
import type { GatewayDeps } from "./routes.ts";
import { PageQuerySchema } from "./schemas.ts";

const ALLOWED = new Set<string>([...OPERATIONAL_EVENT_TYPES, "*"]);

/** The operator acting for the operator's customer. */
const asOperator = (principal: Principal): Principal => ({ ...principal, customerId: OPERATOR_CUSTOMER_ID });

/** Refuses event types other than the operational ones, naming each (the webhook rules check the rest). */
function onlyOperationalTypes(raw: unknown): unknown {
  const types = (raw as { event_types?: unknown } | null)?.event_types;
  if (Array.isArray(types)) {
    const problems = types.filter((type) => typeof type === "string" && !ALLOWED.has(type)).map((type) => `event_types: '${type}' is not an operational event type (${[...ALLOWED].join(", ")})`);
    if (problems.length > 0) throw new ValidationError(problems.join("; "), problems);
  }
  return raw;
}

const Id = t.Object({ id: t.String({ description: "the operational webhook's id (`wh_…`)" }) });

export function operationalRoutes(deps: GatewayDeps) {
  const admin = { scope: "admin", body: SMALL_BODY } as const;
  const tags = [TAGS.operational];
  return new Elysia({ name: "gateway-operational", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/operational-webhooks",
      async ({ principal, body, set }) => {
        await deps.store.ensureCustomer(OPERATOR_CUSTOMER_ID, "hookrelay (operational events)");
        const created = await webhooks.createWebhook(deps, asOperator(principal), onlyOperationalTypes(body));
        set.status = 201;
        set.headers["cache-control"] = "no-store";
        return presentWebhookWithSecret(created);
      },
      {
        bearer: admin,
        response: { 201: "WebhookWithSecret" },
        detail: {
          operationId: "createOperationalWebhook",
          requestBody: validatedByTheUseCase("OperationalWebhookInput"),
          tags,
          summary: "Register an endpoint for hookrelay's own events about every customer",
          description: `\`event_types\`: ${OPERATIONAL_EVENT_TYPES.join(", ")}, or \`*\`. Each is signed as deliveries are (Standard Webhooks), retried and dead-lettered the same way; its data names the customer, the webhook, the reason and when (and for \`delivery.dead\` the delivery and its event). The answer holds the signing secret.`,
        },
      },
    )
    .get("/api/v1/operational-webhooks", async ({ principal, query }) => page(await webhooks.listWebhooks(deps, asOperator(principal), query.limit ?? 100, query.cursor), presentWebhook), {
      bearer: { scope: "admin" },
      query: PageQuerySchema,
      response: { 200: "WebhookPage" },
      detail: { operationId: "listOperationalWebhooks", tags, summary: "List the operational webhooks" },
    })
    .get("/api/v1/operational-webhooks/:id", async ({ principal, params }) => presentWebhook(await webhooks.getWebhook(deps, asOperator(principal), params.id)), {
      bearer: { scope: "admin" },
      params: Id,
      response: { 200: "Webhook" },
      detail: { operationId: "getOperationalWebhook", tags, summary: "Get an operational webhook" },
    })
    .patch(
      "/api/v1/operational-webhooks/:id",
      async ({ principal, params, body }) => presentWebhook(await webhooks.updateWebhook(deps, asOperator(principal), params.id, onlyOperationalTypes(body), "merge")),
      {
        bearer: admin,
        params: Id,
        response: { 200: "Webhook" },
        detail: { operationId: "updateOperationalWebhook", requestBody: validatedByTheUseCase("WebhookPatch"), tags, summary: "Change some fields of an operational webhook" },
      },
    )
    .delete(
      "/api/v1/operational-webhooks/:id",
      async ({ principal, params, set }) => {
        await webhooks.deleteWebhook(deps, asOperator(principal), params.id);
        set.status = 204;
      },
      {
        bearer: { scope: "admin" },
        params: Id,
        response: { 204: t.Void({ description: "Deleted" }) },
        detail: { operationId: "deleteOperationalWebhook", tags, summary: "Delete an operational webhook" },
      },
    )
    .post(
      "/api/v1/operational-webhooks/:id/rotate-secret",
      async ({ principal, params, body, set }) => {
        set.headers["cache-control"] = "no-store";
        return presentWebhookWithSecret(await webhooks.rotateSecret(deps, asOperator(principal), params.id, body === undefined ? {} : body));
      },
      {
        bearer: admin,
        params: Id,
        response: { 200: "WebhookWithSecret" },
        detail: {
          operationId: "rotateOperationalWebhookSecret",
          requestBody: validatedByTheUseCase("RotateSecretInput", false),
          tags,
          summary: "Replace an operational webhook's signing secret, the old one signing too for a grace period",
        },
      },
    );
}
