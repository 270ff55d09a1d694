/**
 * @module The gateway's OpenAPI 3.1 document, generated from the route table and the very TypeBox
 * schemas its handlers validate with (TypeBox-only keys stripped, named schemas as components).
 */
import type { TSchema } from "@sinclair/typebox";
import pkg from "../../../package.json" with { type: "json" };
import { MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_CHARS } from "../../platform/http.ts";
import type { Scope } from "../auth/scopes.ts";
import { EventInputSchema } from "../ingest/schema.ts";
import { WebhookInputSchema, WebhookPatchSchema } from "../webhooks/manage.ts";
import { SMALL_BODY } from "./mount.ts";
import { type Answer, type ErrorStatus, enabledOperations, type Limits, type Operation, TAGS } from "./operations.ts";
import * as S from "./schemas.ts";

/** Schemas shown once under components.schemas and referenced by name wherever they occur. */
export const NAMED_SCHEMAS: Record<string, TSchema> = {
  Error: S.ErrorSchema,
  Webhook: S.WebhookSchema,
  WebhookWithSecret: S.WebhookWithSecretSchema,
  WebhookSecret: S.WebhookSecretSchema,
  WebhookInput: WebhookInputSchema,
  WebhookPatch: WebhookPatchSchema,
  WebhookPage: S.WebhookPageSchema,
  EventInput: EventInputSchema,
  EventAccepted: S.EventAcceptedSchema,
  BatchAccepted: S.BatchAcceptedSchema,
  EventWithDeliveries: S.EventWithDeliveriesSchema,
  Delivery: S.DeliverySchema,
  DeliveryPage: S.DeliveryPageSchema,
  Attempt: S.AttemptSchema,
  AttemptList: S.AttemptListSchema,
  LoginInput: S.LoginInputSchema,
  LoginToken: S.LoginTokenSchema,
  OAuthTokenRequest: S.OAuthTokenFormSchema,
  OAuthToken: S.OAuthTokenSchema,
  OAuthError: S.OAuthErrorSchema,
  Customer: S.CustomerSchema,
  CustomerInput: S.CustomerInputSchema,
  CustomerPage: S.CustomerPageSchema,
  ApiKeyInput: S.ApiKeyInputSchema,
  ApiKey: S.ApiKeySchema,
  ApiKeyCreated: S.ApiKeyCreatedSchema,
  ApiKeyList: S.ApiKeyListSchema,
  Health: S.HealthSchema,
};

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  "webhooks:read": "read webhooks",
  "webhooks:write": "create, change and delete webhooks, rotate their secrets (the answers of create and rotate hold the secret)",
  "webhooks:secrets": "read a webhook's signing secret (GET /api/v1/webhooks/{id}/secret); no other call shows it",
  "events:write": "send events",
  "deliveries:read": "read events, deliveries and attempts",
  "deliveries:write": "retry deliveries",
  admin: "every other scope, in every customer; customers and API keys",
};

/** Keys TypeBox reads that are not JSON Schema (its symbols do not survive Object.entries). */
const TYPEBOX_ONLY = new Set(["errorMessage"]);

/** Plain JSON Schema 2020-12: named schemas become `$ref`s (except at the top of their own definition). */
export function jsonSchema(schema: unknown, names: Map<unknown, string>, own = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => jsonSchema(s, names));
  if (schema === null || typeof schema !== "object") return schema;
  const name = own ? undefined : names.get(schema);
  if (name) return { $ref: `#/components/schemas/${name}` };
  return Object.fromEntries(
    Object.entries(schema)
      .filter(([k]) => !TYPEBOX_ONLY.has(k))
      .map(([k, v]) => [k, jsonSchema(v, names)]),
  );
}

export interface DocumentOptions {
  features: { oauth: boolean };
  limits: Limits;
}

const RATE_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"];

function errorAnswer(description: string, headers: string[] = []) {
  return {
    description,
    ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
    content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
  };
}

/** The errors an operation can answer, from its access, body, query and parameters, and its own. */
function errorsOf(op: Operation, limits: Limits): [number, string][] {
  const errors = new Map<ErrorStatus, string>();
  const jsonBody = op.body && op.body.parsedBy !== "handler";
  if (jsonBody) errors.set(400, "the body is empty or not JSON (`invalid_json`), or not `application/json` (`unsupported_media_type`)");
  if (op.access.kind === "bearer") {
    errors.set(401, "no, malformed, expired or invalid token or API key, or a revoked one (`unauthorized`)");
    errors.set(403, `the credentials lack the \`${op.access.scope}\` scope (\`forbidden\`)`);
  }
  if (op.params) errors.set(404, "no such resource in the caller's customer (`not_found`); another customer's answers the same");
  if (jsonBody) {
    const max = op.body!.size === "event" ? limits.maxEventBytes : op.body!.size === "batch" ? limits.maxBatchBytes : SMALL_BODY;
    errors.set(413, `the body is larger than ${max} bytes (\`payload_too_large\`)`);
  }
  if (jsonBody || op.query)
    errors.set(422, `${jsonBody ? "a field is missing, unknown or invalid" : "a query parameter is unknown or invalid"} (\`validation_failed\`); \`error.details\` lists every problem`);
  if (op.access.kind !== "public") errors.set(429, "the client IP or the customer spent its rate limit (`rate_limited`); `Retry-After` says when to come back; nothing of the request was kept");
  for (const [status, when] of Object.entries(op.errors ?? {})) errors.set(Number(status) as ErrorStatus, when);
  return [...errors].sort(([a], [b]) => a - b);
}

function answer(a: Answer, names: Map<unknown, string>, headers: string[]) {
  const contentType = a.contentType ?? "application/json";
  return {
    description: a.description,
    ...(headers.length > 0 ? { headers: Object.fromEntries(headers.map((h) => [h, { $ref: `#/components/headers/${h}` }])) } : {}),
    ...(a.status === 204 ? {} : { content: { [contentType]: a.schema ? { schema: jsonSchema(a.schema, names) } : {} } }),
  };
}

function operationObject(id: string, op: Operation, options: DocumentOptions, names: Map<unknown, string>) {
  const { access } = op;
  const rated = access.kind !== "public" ? RATE_HEADERS : [];
  const responses: Record<string, unknown> = { [op.ok.status]: answer(op.ok, names, rated) };
  for (const other of op.also ?? []) responses[other.status] = answer(other, names, []);
  for (const [status, when] of errorsOf(op, options.limits)) responses[status] ??= errorAnswer(when, status === 429 ? ["Retry-After", ...RATE_HEADERS] : []);

  const parameters = [
    ...Object.entries(op.params ?? {}).map(([name, description]) => ({ name, in: "path", required: true, description, schema: { type: "string" } })),
    ...Object.entries(op.query?.properties ?? {}).map(([name, schema]) => {
      const { description, ...rest } = jsonSchema(schema, names) as { description?: string };
      return { name, in: "query", required: op.query!.required?.includes(name) ?? false, ...(description ? { description } : {}), schema: rest };
    }),
  ];

  let security: Record<string, string[]>[] = [];
  if (access.kind === "bearer") security = [{ bearerAuth: [access.scope] }, ...(options.features.oauth ? [{ oauth2: [access.scope] }] : [])];
  else if (id === "oauthToken") security = [{}, { clientBasic: [] }];

  const door =
    access.kind === "bearer"
      ? `Needs the \`${access.scope}\` scope (\`admin\` holds every scope).`
      : access.kind === "client"
        ? "No credentials; the client IP's rate limit applies."
        : "Public: no credentials, no rate limit.";
  const body = op.body;
  const bodySchema = body ? (typeof body.schema === "function" ? body.schema(options.limits) : body.schema) : undefined;
  return {
    operationId: id,
    tags: [TAGS[op.tag]],
    summary: op.summary,
    description: [op.description, door].filter(Boolean).join("\n\n"),
    security,
    ...(access.kind === "bearer" ? { "x-scope": access.scope } : {}),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(body ? { requestBody: { required: true, content: { [body.contentType ?? "application/json"]: { schema: jsonSchema(bodySchema, names), example: body.example } } } } : {}),
    responses,
  };
}

const INTRODUCTION = `hookrelay receives events and delivers them, signed (Standard Webhooks), to your customers' webhooks, retrying with backoff until they succeed or are dead.

Authentication: \`Authorization: Bearer <token>\`, where the token is a JWT from \`POST /auth/login\` (or \`POST /oauth/token\` when enabled) or an API key (\`hrk_…\`). Each operation names the scope it needs; \`admin\` holds every scope. Another customer's resources answer 404, never 403.

Errors are \`{"error":{"code","message"}}\` (with \`details\` when validation found several problems), never a stack trace; \`/oauth/token\` answers RFC 6749's errors instead.

Rate limits: answers carry \`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\` (the tighter of the client IP's and the customer's buckets); past the limit, 429 \`rate_limited\` with \`Retry-After\`.

Limits: a request URL of at most ${MAX_URL_CHARS} characters (414 \`uri_too_long\`), at most ${MAX_HEADERS} headers and ${MAX_HEADER_BYTES} bytes of them (431 \`headers_too_large\`). Lists take \`limit\` (1-1000, default 100) and \`cursor\` (the previous page's \`next_cursor\`, null on the last page).`;

/** The document for the enabled features, with the configured limits. */
export function openApiDocument(options: DocumentOptions) {
  const names = new Map<unknown, string>(Object.entries(NAMED_SCHEMAS).map(([name, schema]) => [schema, name]));
  const paths: Record<string, Record<string, unknown>> = {};
  for (const [id, op] of enabledOperations(options.features)) {
    paths[op.path] ??= {};
    paths[op.path]![op.method] = operationObject(id, op, options, names);
  }
  const scopes = SCOPE_DESCRIPTIONS;
  return {
    openapi: "3.1.0",
    info: { title: "hookrelay API", version: pkg.version, description: INTRODUCTION },
    tags: Object.values(TAGS).map((name) => ({ name })),
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(NAMED_SCHEMAS).map(([name, schema]) => [name, jsonSchema(schema, names, true)])),
      headers: {
        "RateLimit-Limit": { description: "requests (ingest: events) per second of the tighter bucket", schema: { type: "integer" } },
        "RateLimit-Remaining": { description: "what is left of it now", schema: { type: "integer" } },
        "RateLimit-Reset": { description: "seconds until it is full again", schema: { type: "integer" } },
        "Retry-After": { description: "seconds to wait before trying again", schema: { type: "integer" } },
      },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT or hrk_ API key",
          description: `A JWT from /auth/login${options.features.oauth ? " or /oauth/token" : ""}, or an API key (\`hrk_…\`). Scopes: ${Object.entries(scopes)
            .map(([s, d]) => `\`${s}\` (${d})`)
            .join(", ")}.`,
        },
        ...(options.features.oauth
          ? {
              oauth2: { type: "oauth2", description: "An API key's id and key as client credentials", flows: { clientCredentials: { tokenUrl: "/oauth/token", scopes } } },
              clientBasic: { type: "http", scheme: "basic", description: "For /oauth/token: the API key's id as user, the key as password" },
            }
          : {}),
      },
    },
  };
}

export type OpenApiDocument = ReturnType<typeof openApiDocument>;
