/**
 * @module The gateway's routes of the event type catalog (`/api/v1/event-types`), and the catalog as
 * an OpenAPI 3.1 document of the webhooks a customer's receivers get (`/api/v1/catalog/openapi.json`).
 */
import type { Static } from "@sinclair/typebox";
import { Elysia, t } from "elysia";
import type { EventType } from "../../domain/model.ts";
import { accessControl } from "../auth/access.ts";
import { type CatalogDeps, createEventType, deleteEventType, getEventType, listEventTypes, updateEventType, wholeCatalog } from "../catalog/manage.ts";
import { GATEWAY_MODELS, SMALL_BODY, TAGS, validatedByTheUseCase } from "./models.ts";
import { page, presentEventType } from "./present.ts";
import type { GatewayDeps } from "./routes.ts";
import { type CatalogDocumentSchema, PageQuerySchema } from "./schemas.ts";

const EventTypeName = t.Object({ name: t.String({ description: "the event type's name (a `/` in it percent-encoded: `%2F`)" }) });

/**
 * The catalog as OpenAPI 3.1 `webhooks`: one operation per event type, its request body the
 * delivered event with the type's data schema and examples, so receivers' teams can generate types
 * or read what they will get.
 */
export function catalogDocument(types: EventType[]): Static<typeof CatalogDocumentSchema> {
  const webhooks = Object.fromEntries(
    types.map((type) => [
      type.name,
      {
        post: {
          operationId: `on_${type.name.replace(/[^A-Za-z0-9_]/g, "_")}`,
          summary: type.name,
          ...(type.description ? { description: type.description } : {}),
          requestBody: {
            required: true,
            content: {
              "application/json": {
                schema: {
                  type: "object",
                  required: ["id", "type", "source", "data", "timestamp"],
                  properties: {
                    id: { type: "string" },
                    type: { const: type.name },
                    source: { type: "string" },
                    data: type.schema ?? {},
                    timestamp: { type: "string", format: "date-time" },
                  },
                },
                ...(type.examples.length > 0
                  ? {
                      examples: Object.fromEntries(
                        type.examples.map((data, i) => [`example${i + 1}`, { value: { id: "evt_example", type: type.name, source: "example", data, timestamp: "2026-12-05T09:00:00.000Z" } }]),
                      ),
                    }
                  : {}),
              },
            },
          },
          responses: { "2XX": { description: "received; any other answer is retried (see the webhook-* signature headers)" } },
        },
      },
    ]),
  );
  return { openapi: "3.1.0" as const, info: { title: "Webhook events", version: "1", description: "The events this customer's webhooks receive, signed per Standard Webhooks." }, paths: {}, webhooks };
}

export function catalogRoutes(deps: GatewayDeps & CatalogDeps) {
  const read = { scope: "webhooks:read" } as const;
  const write = { scope: "webhooks:write", body: SMALL_BODY * 2 } as const;
  return new Elysia({ name: "gateway-catalog", normalize: false })
    .use(accessControl(deps))
    .model(GATEWAY_MODELS)
    .post(
      "/api/v1/event-types",
      async ({ principal, body, set }) => {
        set.status = 201;
        return presentEventType(await createEventType(deps, principal, body));
      },
      {
        bearer: write,
        response: { 201: "EventType", 409: "Error" },
        detail: {
          operationId: "createEventType",
          "x-errors": { 409: "an event type of that name exists already (`conflict`)" },
          requestBody: validatedByTheUseCase("EventTypeInput"),
          tags: [TAGS.catalog],
          summary: "Add an event type to the catalog, with its data's JSON Schema and examples",
          description:
            "From then on ingest refuses (422, naming where) an event of this type whose `data` does not satisfy the schema; the examples must satisfy it too, and a test send sends the first. A name taken is 409.",
        },
      },
    )
    .get("/api/v1/event-types", async ({ principal, query }) => page(await listEventTypes(deps, principal, query.limit ?? 100, query.cursor), presentEventType), {
      bearer: read,
      query: PageQuerySchema,
      response: { 200: "EventTypePage" },
      detail: { operationId: "listEventTypes", tags: [TAGS.catalog], summary: "List the catalog's event types by name" },
    })
    .get("/api/v1/catalog/openapi.json", async ({ principal }) => catalogDocument(await wholeCatalog(deps.store.eventTypes, principal.customerId)), {
      bearer: read,
      response: { 200: "CatalogDocument" },
      detail: { operationId: "getCatalogDocument", tags: [TAGS.catalog], summary: "The catalog as an OpenAPI 3.1 document of webhooks: what each event type's receivers get" },
    })
    .get("/api/v1/event-types/:name", async ({ principal, params }) => presentEventType(await getEventType(deps, principal, params.name)), {
      bearer: read,
      params: EventTypeName,
      response: { 200: "EventType" },
      detail: { operationId: "getEventType", tags: [TAGS.catalog], summary: "Get an event type" },
    })
    .patch("/api/v1/event-types/:name", async ({ principal, params, body }) => presentEventType(await updateEventType(deps, principal, params.name, body)), {
      bearer: write,
      params: EventTypeName,
      response: { 200: "EventType" },
      detail: {
        operationId: "updateEventType",
        requestBody: validatedByTheUseCase("EventTypePatch"),
        tags: [TAGS.catalog],
        summary: "Change an event type's description, schema or examples",
        description: "A new schema must accept the examples kept, and new examples the schema kept. Events accepted before are not checked again.",
      },
    })
    .delete(
      "/api/v1/event-types/:name",
      async ({ principal, params, set }) => {
        await deleteEventType(deps, principal, params.name);
        set.status = 204;
      },
      {
        bearer: { scope: "webhooks:write" },
        params: EventTypeName,
        response: { 204: t.Void({ description: "Deleted" }) },
        detail: { operationId: "deleteEventType", tags: [TAGS.catalog], summary: "Remove an event type: its events are no longer checked" },
      },
    );
}
