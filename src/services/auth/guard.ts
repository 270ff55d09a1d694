/**
 * @module The door every HTTP call goes through: the client IP's rate limit (before the
 * credentials, so guessing them is limited too), the credentials, the scope, then the customer's
 * rate limit. The tighter bucket's `RateLimit-*` headers go on the answer.
 */
import { clientIp, type RequestContext } from "../../platform/http.ts";
import { type RateGate, type RateHeaders, type Surface, tighter } from "../../platform/rate-gate.ts";
import { requireScope, type Scope } from "./scopes.ts";
import { bearerToken, type Credentials, type Principal } from "./tokens.ts";

export interface GuardDeps {
  credentials: Credentials;
  rateGate: RateGate;
  trustForwardedFor: boolean;
}

/** The IP's bucket alone, for calls before anyone is known (login). */
export async function limitClient(deps: GuardDeps, ctx: RequestContext, surface: Surface): Promise<RateHeaders> {
  const headers = await deps.rateGate.byIp(surface, clientIp(ctx, deps.trustForwardedFor));
  Object.assign(ctx.set.headers, headers);
  return headers;
}

/**
 * The door without its transport (HTTP or gRPC): the client IP's bucket, the credentials in the
 * `authorization` value, the scope, then `cost` from the customer's bucket (0: charge later).
 * Returns who calls and the tighter bucket's headers.
 */
export async function authenticateAndLimit(
  deps: GuardDeps,
  surface: Surface,
  ip: string | null,
  authorization: string | null,
  scope: Scope,
  cost = 1,
): Promise<{ principal: Principal; headers: RateHeaders }> {
  const ipHeaders = await deps.rateGate.byIp(surface, ip);
  const principal = await deps.credentials.verify(bearerToken(authorization));
  requireScope(principal, scope);
  const headers = cost > 0 ? tighter(ipHeaders, await deps.rateGate.byCustomer(surface, principal.customerId, cost)) : ipHeaders;
  return { principal, headers };
}

/** Who calls an HTTP route, holding `scope`, within both rate limits; the headers go on the answer. */
export async function authorize(deps: GuardDeps, ctx: RequestContext, surface: Surface, scope: Scope, cost = 1): Promise<Principal> {
  const { principal, headers } = await authenticateAndLimit(deps, surface, clientIp(ctx, deps.trustForwardedFor), ctx.request.headers.get("authorization"), scope, cost);
  Object.assign(ctx.set.headers, headers);
  return principal;
}

/** Takes `cost` more from the customer's bucket (a batch's events, once they are counted). */
export async function charge(deps: GuardDeps, ctx: RequestContext, surface: Surface, principal: Principal, cost: number): Promise<void> {
  const headers = await deps.rateGate.byCustomer(surface, principal.customerId, cost);
  Object.assign(ctx.set.headers, tighter(ctx.set.headers as RateHeaders, headers));
}
