/**
 * @module What each role's OpenAPI document says besides its routes: its title, introduction,
 * sections and security schemes. The routes themselves describe the rest (platform/openapi-document.ts).
 */
import pkg from "../../../package.json" with { type: "json" };
import { MAX_HEADER_BYTES, MAX_HEADERS, MAX_URL_CHARS } from "../../platform/http.ts";
import type { DocumentOptions } from "../../platform/openapi-document.ts";
import type { Scope } from "../auth/scopes.ts";
import { TAGS } from "./models.ts";

export const SCOPE_DESCRIPTIONS: Record<Scope, string> = {
  "webhooks:read": "read webhooks",
  "webhooks:write": "create, change and delete webhooks, rotate their secrets (the answers of create and rotate hold the secret)",
  "webhooks:secrets": "read a webhook's signing secret (GET /api/v1/webhooks/{id}/secret); no other call shows it",
  "events:write": "send events",
  "deliveries:read": "read events, deliveries and attempts",
  "deliveries:write": "retry deliveries, recover a webhook's deliveries",
  "portal:create": "mint customer portal links for its own customer (each holds the webhook and delivery scopes its minter holds)",
  admin: "every other scope, in every customer; customers and API keys",
};

const COMMON = `Authentication: \`Authorization: Bearer <token>\`, where the token is a JWT from the gateway's \`POST /auth/login\` (or \`POST /oauth/token\` when enabled) or an API key (\`hrk_…\`). Each operation names the scope it needs; \`admin\` holds every scope. Another customer's resources answer 404, never 403.

Errors are \`{"error":{"code","message"}}\` (with \`details\` when validation found several problems), never a stack trace; \`/oauth/token\` answers RFC 6749's errors instead.

Rate limits: answers carry \`RateLimit-Limit\`, \`RateLimit-Remaining\` and \`RateLimit-Reset\` (the tighter of the client IP's and the customer's buckets); past the limit, 429 \`rate_limited\` with \`Retry-After\`.

Limits: a request URL of at most ${MAX_URL_CHARS} characters (414 \`uri_too_long\`), at most ${MAX_HEADERS} headers and ${MAX_HEADER_BYTES} bytes of them (431 \`headers_too_large\`).`;

const INTRODUCTION = {
  gateway: `hookrelay receives events and delivers them, signed (Standard Webhooks), to your customers' webhooks, retrying with backoff until they succeed or are dead. This is the gateway (port 8080): the management API, and the event routes under \`/api/v1\`. Producers may send events to the ingest role directly (port 8082, its own \`/docs\`); the dashboard and its API are the observability role's (port 8085, its own \`/docs\`).

${COMMON} Lists take \`limit\` (1-1000, default 100) and \`cursor\` (the previous page's \`next_cursor\`, null on the last page).`,
  ingest: `hookrelay's ingest role (port 8082): producers send events here; each is answered once it is durable, and every webhook subscribed to its type receives it at least once. The same routes are on the gateway under \`/api/v1\`.

${COMMON}`,
  observability: `hookrelay's observability role (port 8085): the dashboard (\`/\`) and the API it reads: rates and latencies over the last minutes, each webhook's health, recent failures, and one event's timeline. The dashboard logs in with the admin password and keeps the token in the page; every API call needs the \`admin\` scope (it counts over every customer).

${COMMON}`,
};

const bearerAuth = (oauth: boolean) => ({
  type: "http",
  scheme: "bearer",
  bearerFormat: "JWT or hrk_ API key",
  description: `A JWT from /auth/login${oauth ? " or /oauth/token" : ""}, or an API key (\`hrk_…\`). Scopes: ${Object.entries(SCOPE_DESCRIPTIONS)
    .map(([s, d]) => `\`${s}\` (${d})`)
    .join(", ")}.`,
});

/** The document options of a role that serves an API. */
export function documentOf(role: keyof typeof INTRODUCTION, features: { oauth: boolean }): DocumentOptions {
  const titles = { gateway: "hookrelay API", ingest: "hookrelay ingest", observability: "hookrelay observability" };
  const oauth = role === "gateway" && features.oauth;
  const tags = role === "gateway" ? Object.values(TAGS) : role === "ingest" ? [TAGS.events, TAGS.service] : ["Dashboard", TAGS.service];
  return {
    info: { title: titles[role], version: pkg.version, description: INTRODUCTION[role] },
    tags: tags.map((name) => ({ name })),
    securitySchemes: {
      bearerAuth: bearerAuth(features.oauth),
      ...(oauth
        ? {
            oauth2: { type: "oauth2", description: "An API key's id and key as client credentials", flows: { clientCredentials: { tokenUrl: "/oauth/token", scopes: SCOPE_DESCRIPTIONS } } },
            clientBasic: { type: "http", scheme: "basic", description: "For /oauth/token: the API key's id as user, the key as password" },
          }
        : {}),
    },
  };
}
