/**
 * @module The door every HTTP call goes through: the client IP's rate limit (before the
 * credentials, so guessing them is limited too), the credentials, the scope, then the customer's
 * rate limit. The tighter bucket's `RateLimit-*` headers go on the answer.
 */
import { type RequestContext, clientIp } from "../../platform/http.ts";
import { type RateGate, type RateHeaders, type Surface, tighter } from "../../platform/rate-gate.ts";
import { type Scope, requireScope } from "./scopes.ts";
import { type Credentials, type Principal, authenticate } from "./tokens.ts";

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

/** Who calls, holding `scope`, within both rate limits; `cost` is taken from the customer's bucket (0: charge later). */
export async function authorize(deps: GuardDeps, ctx: RequestContext, surface: Surface, scope: Scope, cost = 1): Promise<Principal> {
  const ipHeaders = await limitClient(deps, ctx, surface);
  const principal = await authenticate(deps.credentials, ctx.request);
  requireScope(principal, scope);
  if (cost > 0) Object.assign(ctx.set.headers, tighter(ipHeaders, await deps.rateGate.byCustomer(surface, principal.customerId, cost)));
  return principal;
}

/** Takes `cost` more from the customer's bucket (a batch's events, once they are counted). */
export async function charge(deps: GuardDeps, ctx: RequestContext, surface: Surface, principal: Principal, cost: number): Promise<void> {
  const headers = await deps.rateGate.byCustomer(surface, principal.customerId, cost);
  Object.assign(ctx.set.headers, tighter(ctx.set.headers as RateHeaders, headers));
}
