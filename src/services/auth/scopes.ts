/** @module Scopes a principal needs for each kind of call; `admin` holds them all. */
import { ForbiddenError } from "../../domain/errors.ts";
import type { Principal } from "./tokens.ts";

/**
 * Every scope a token or key can carry. `webhooks:secrets` reads a webhook's signing secret
 * (`GET /api/v1/webhooks/{id}/secret`, gRPC `GetWebhookSecret`); `webhooks:read` never sees it.
 * `portal:create` mints customer portal links for the caller's own customer.
 */
export const SCOPES = ["webhooks:read", "webhooks:write", "webhooks:secrets", "events:write", "deliveries:read", "deliveries:write", "portal:create", "admin"] as const;

export type Scope = (typeof SCOPES)[number];

export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.scopes.includes(scope) || principal.scopes.includes("admin")) return;
  throw new ForbiddenError(`this call needs the '${scope}' scope`);
}
