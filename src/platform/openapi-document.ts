/**
 * @module A role's OpenAPI 3.1 document: `@elysiajs/openapi`'s `toOpenAPISchema` reads every route
 * the app registered (its params, query, body and response schemas, its `detail`, and what the
 * access macros added), then `finishDocument` adds what follows from those by rule, so that no
 * route states it twice:
 * - every refusal a route can answer: 400/413/422 for a JSON body, 404 for path parameters, 422 for
 *   a query, 429 (with `Retry-After` and the `RateLimit-*` headers) behind a door, with what each means;
 * - `security: []` on public routes;
 * - query parameters as plain types (Elysia's query coercion shows as a string-or-number union),
 *   an empty 204 (the generator writes `t.Void()` as an invalid `content`), no TypeBox-only keys.
 */
import { toOpenAPISchema } from "@elysiajs/openapi";
import type { TSchema } from "@sinclair/typebox";
import type { AnyElysia } from "elysia";

export interface DocumentOptions {
  info: { title: string; version: string; description: string };
  tags: { name: string; description?: string }[];
  securitySchemes?: Record<string, unknown>;
}

type Json = Record<string, any>;

/** The schema with examples, for the document (a copy: TypeBox's own keys, symbols included, are kept). */
export const withExamples = <T extends TSchema>(schema: T, ...examples: unknown[]): T => ({ ...schema, examples });

const METHODS = ["get", "post", "put", "patch", "delete"];
const RATE_HEADERS = ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset"];
/** Keys TypeBox reads that are not JSON Schema; `$id` is Elysia's (a fragment, which 2020-12 forbids). */
const NOT_JSON_SCHEMA = new Set(["errorMessage", "$id"]);

const HEADERS = {
  "RateLimit-Limit": { description: "requests (ingest: events) per second of the tighter bucket", schema: { type: "integer" } },
  "RateLimit-Remaining": { description: "what is left of it now", schema: { type: "integer" } },
  "RateLimit-Reset": { description: "seconds until it is full again", schema: { type: "integer" } },
  "Retry-After": { description: "seconds to wait before trying again", schema: { type: "integer" } },
};

/** What each refusal means, unless the route's `x-errors` says it better. */
function refusal(status: number, op: Json): string {
  switch (status) {
    case 400:
      return "the body is empty or not JSON (`invalid_json`), or not `application/json` (`unsupported_media_type`)";
    case 401:
      return "no, malformed, expired or invalid token or API key, or a revoked one (`unauthorized`)";
    case 403:
      return `the credentials lack the \`${op["x-scope"]}\` scope (\`forbidden\`)`;
    case 404:
      return "no such resource in the caller's customer (`not_found`); another customer's answers the same";
    case 413:
      return `the body is larger than ${op["x-max-body-bytes"]} bytes (\`payload_too_large\`)`;
    case 422:
      return `${op.requestBody ? "a field is missing, unknown or invalid" : "a query parameter is unknown or invalid"} (\`validation_failed\`); \`error.details\` lists every problem`;
    case 429:
      return "the client IP or the customer spent its rate limit (`rate_limited`); `Retry-After` says when to come back; nothing of the request was kept";
    default:
      return "see the operation's description";
  }
}

const STATUS_TEXT: Record<string, string> = { 200: "OK", 201: "Created", 202: "Accepted", 204: "No content" };

const headerRefs = (names: string[]) => Object.fromEntries(names.map((h) => [h, { $ref: `#/components/headers/${h}` }]));

function finishOperation(op: Json): void {
  op.responses ??= {};
  const responses: Json = op.responses;
  // Behind a door (the access macros add 429): answers carry the rate-limit headers.
  const guarded = "429" in responses;
  op.security ??= [];
  const jsonBody = op.requestBody?.content?.["application/json"] !== undefined;
  const errors = new Map<number, string>();
  if (jsonBody) for (const status of [400, 413, 422]) errors.set(status, refusal(status, op));
  if (op.parameters?.some((p: Json) => p.in === "path")) errors.set(404, refusal(404, op));
  if (op.parameters?.some((p: Json) => p.in === "query")) errors.set(422, refusal(422, op));
  for (const status of Object.keys(responses).map(Number)) if (status >= 400 && !errors.has(status)) errors.set(status, refusal(status, op));
  for (const [status, when] of Object.entries<string>(op["x-errors"] ?? {})) errors.set(Number(status), when);
  delete op["x-errors"];
  delete op["x-max-body-bytes"];

  for (const [status, when] of errors) {
    const existing = responses[status];
    const custom = existing?.content && !JSON.stringify(existing.content).includes("#/components/schemas/Error");
    if (custom && !existing.description.startsWith("Response for status")) continue;
    responses[status] = custom
      ? { ...existing, description: when }
      : {
          description: when,
          ...(status === 429 ? { headers: headerRefs(["Retry-After", ...RATE_HEADERS]) } : {}),
          content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
        };
  }
  for (const [status, answer] of Object.entries<Json>(responses)) {
    if (answer.content?.type === "void" || status === "204") delete answer.content;
    // The generator's stand-in, where a schema has no description of its own.
    if (answer.description?.startsWith("Response for status")) answer.description = STATUS_TEXT[status] ?? "The answer";
    if (guarded && Number(status) < 300) answer.headers = headerRefs(RATE_HEADERS);
  }
  op.responses = Object.fromEntries(Object.entries(responses).sort(([a], [b]) => Number(a) - Number(b)));
  for (const parameter of op.parameters ?? []) {
    if (parameter.in !== "query") continue;
    // Elysia coerces a number in the query from text: the document says the number.
    const typed = parameter.schema.anyOf?.find((s: Json) => s.type !== "string" || s.format === undefined);
    const schema = parameter.schema.anyOf && typed ? typed : parameter.schema;
    const { description, title: _title, ...rest } = schema;
    parameter.schema = rest;
    if (description) parameter.description = description;
  }
}

/** Plain JSON Schema: without TypeBox's and Elysia's own keys. */
function plain(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(plain);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(
    Object.entries(node)
      .filter(([k]) => !NOT_JSON_SCHEMA.has(k))
      .map(([k, v]) => [k, plain(v)]),
  );
}

/** The document of every route `app` serves (those marked `detail.hide` aside). */
export function describeApp(app: AnyElysia, options: DocumentOptions): Json {
  const generated = toOpenAPISchema(app, { staticFile: false, methods: ["options", "head"] }) as Json;
  const oauth = options.securitySchemes?.oauth2 !== undefined;
  for (const item of Object.values<Json>(generated.paths))
    for (const method of METHODS) {
      const op = item[method];
      if (!op) continue;
      finishOperation(op);
      // A scope's token may come from the OAuth flow too.
      const bearer = op.security.find((s: Json) => s.bearerAuth);
      if (oauth && bearer) op.security.push({ oauth2: bearer.bearerAuth });
    }
  return plain({
    openapi: "3.1.0",
    info: options.info,
    tags: options.tags,
    paths: generated.paths,
    components: {
      schemas: generated.components.schemas,
      headers: HEADERS,
      securitySchemes: options.securitySchemes ?? {},
    },
  }) as Json;
}
