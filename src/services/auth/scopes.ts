/** @module Scopes a principal needs for each kind of call; `admin` holds them all. */
import { ForbiddenError } from "../../domain/errors.ts";
import type { Principal } from "./tokens.ts";

/** Every scope a token or key can carry. */
export const SCOPES = ["webhooks:read", "webhooks:write", "events:write", "deliveries:read", "deliveries:write", "admin"] as const;

export type Scope = (typeof SCOPES)[number];

export function requireScope(principal: Principal, scope: Scope): void {
  if (principal.scopes.includes(scope) || principal.scopes.includes("admin")) return;
  throw new ForbiddenError(`this call needs the '${scope}' scope`);
}
