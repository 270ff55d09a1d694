/**
 * @module OAuth 2.0 client credentials (RFC 6749 §4.4) at `POST /oauth/token`: a customer's API
 * key id and secret are its client id and secret; the answer is a short-lived JWT with the key's
 * scopes (or the subset asked for). Answers and errors are the RFC's (§5.1, §5.2), not the rest of
 * the API's error shape, since OAuth client libraries read them.
 */
import { UnauthorizedError } from "../../domain/errors.ts";
import { readBody, readJson } from "../../platform/http.ts";
import type { ApiKeys } from "../auth/api-keys.ts";
import { SCOPES } from "../auth/scopes.ts";
import type { Tokens } from "../auth/tokens.ts";

export interface OAuthDeps {
  apiKeys: ApiKeys;
  /** Signs the access tokens; their lifetime is `tokenTtlSeconds`. */
  oauthTokens: Tokens;
}

const MAX_BODY = 8 * 1024;
const NO_STORE = { "cache-control": "no-store", pragma: "no-cache" };

type OAuthErrorCode = "invalid_request" | "invalid_client" | "unsupported_grant_type" | "invalid_scope";

function oauthError(code: OAuthErrorCode, description: string, basic = false): Response {
  const status = code === "invalid_client" ? 401 : 400;
  const headers: Record<string, string> = { "content-type": "application/json", ...NO_STORE };
  if (status === 401 && basic) headers["www-authenticate"] = 'Basic realm="hookrelay"';
  return new Response(JSON.stringify({ error: code, error_description: description }), { status, headers });
}

/** The request's parameters: a form body (the RFC's), or JSON (accepted too). */
async function parameters(request: Request): Promise<Record<string, string> | null> {
  const type = request.headers.get("content-type") ?? "";
  if (/^application\/x-www-form-urlencoded\b/i.test(type)) {
    // Capped like the JSON body: the listener itself sets no size limit.
    const text = await readBody(request, MAX_BODY).catch(() => null);
    return text === null ? null : Object.fromEntries(new URLSearchParams(text));
  }
  const body = await readJson(request, MAX_BODY).catch(() => null);
  if (body === null || typeof body !== "object" || Array.isArray(body)) return null;
  return Object.fromEntries(Object.entries(body).filter(([, v]) => typeof v === "string")) as Record<string, string>;
}

/** `Authorization: Basic` client credentials (RFC 6749 §2.3.1: each part form-encoded), or null. */
function basicCredentials(header: string | null): { id: string; secret: string } | null | "malformed" {
  if (!header || !/^Basic\s/i.test(header)) return null;
  try {
    const decoded = Buffer.from(header.replace(/^Basic\s+/i, ""), "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon < 0) return "malformed";
    return { id: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, " ")), secret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, " ")) };
  } catch {
    return "malformed";
  }
}

/** Answers one token request (the client IP's rate limit is the `client` macro's, before this). */
export async function issueToken(deps: OAuthDeps, request: Request): Promise<Response> {
  const params = await parameters(request);
  if (params === null) return oauthError("invalid_request", "the body must be application/x-www-form-urlencoded (or a JSON object) of at most 8 KiB");
  const basic = basicCredentials(request.headers.get("authorization"));
  if (basic === "malformed") return oauthError("invalid_client", "the Basic credentials are not base64 of client_id:client_secret", true);
  if (basic && (params.client_id || params.client_secret)) return oauthError("invalid_request", "send the client credentials once: in the Authorization header or in the body");
  if (params.grant_type === undefined) return oauthError("invalid_request", "grant_type is required");
  if (params.grant_type !== "client_credentials") return oauthError("unsupported_grant_type", `grant_type '${params.grant_type.slice(0, 64)}' is not supported; use client_credentials`);
  const client = basic ?? (params.client_id && params.client_secret ? { id: params.client_id, secret: params.client_secret } : null);
  if (!client) return oauthError("invalid_client", "client authentication is required (client_id and client_secret)", true);

  let granted: { customerId: string; scopes: string[] };
  try {
    const principal = await deps.apiKeys.verify(client.secret);
    if (principal.subject !== `key:${client.id}`) throw new UnauthorizedError("client_id and client_secret do not belong together");
    granted = principal;
  } catch (err) {
    if (err instanceof UnauthorizedError) return oauthError("invalid_client", `client authentication failed: ${err.message}`, basic !== null);
    throw err;
  }
  const asked = params.scope ? [...new Set(params.scope.split(" ").filter(Boolean))] : granted.scopes;
  const unknown = asked.filter((s) => !(SCOPES as readonly string[]).includes(s));
  if (unknown.length > 0) return oauthError("invalid_scope", `unknown scope ${unknown.join(" ").slice(0, 200)}; scopes are ${SCOPES.join(" ")}`);
  const beyond = asked.filter((s) => !granted.scopes.includes(s) && !granted.scopes.includes("admin"));
  if (beyond.length > 0) return oauthError("invalid_scope", `the client may not ask for ${beyond.join(" ")}; it holds ${granted.scopes.join(" ")}`);

  const token = await deps.oauthTokens.issue({ subject: `client:${client.id}`, customerId: granted.customerId, scopes: asked });
  return new Response(JSON.stringify({ access_token: token, token_type: "Bearer", expires_in: deps.oauthTokens.expirySeconds, scope: asked.join(" ") }), {
    status: 200,
    headers: { "content-type": "application/json", ...NO_STORE },
  });
}
