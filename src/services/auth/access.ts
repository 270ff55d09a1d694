/**
 * @module Who may call a route, as Elysia macros: `bearer` (a token or API key holding a scope)
 * and `client` (no credentials, the client IP's rate limit). Each puts the route's security and its
 * refusals in the OpenAPI document, so what a route checks and what it documents are one value.
 *
 * The checks run before Elysia validates anything: a caller without credentials gets 401, not a
 * 422 about its body. For a route with a body they run in `parse`, before the body is read (an
 * unknown caller cannot make the process read 16 MiB); the body is then read capped
 * (`readJson`). Elysia keeps one `parse` per route, so one macro does both. Without a body, they
 * run in `transform`, the first step of a bodiless request after routing.
 */
import { Elysia } from "elysia";
import { ErrorSchema, readJson } from "../../platform/http.ts";
import type { Surface } from "../../platform/rate-gate.ts";
import { authorize, type GuardDeps, limitClient } from "./guard.ts";
import type { Scope } from "./scopes.ts";
import type { Principal } from "./tokens.ts";

export interface BearerAccess {
  scope: Scope;
  /** Whose rate limits apply: the API's (default) or ingest's. */
  surface?: Surface;
  /** The route takes a JSON body of at most this many bytes (413 beyond). */
  body?: number;
  /** The body may be left out (the handler gets `{}`); else an empty body is 400. */
  bodyOptional?: boolean;
  /** Taken from the customer's bucket up front (default 1); 0: the handler charges what it counts. */
  cost?: number;
}

export interface ClientAccess {
  surface: Surface;
  /** The route takes a JSON body of at most this many bytes; left out, the handler reads the request. */
  body?: number;
}

const PRINCIPAL = Symbol("principal");
type Checked = { [PRINCIPAL]?: Principal | null };
type Context = Checked & { request: Request; set: { headers: Record<string, string | number> }; server: { requestIP(request: Request): { address: string } | null } | null };

/** The error answers a door adds to every route behind it; their descriptions are filled in by `finishDocument`. */
const REFUSALS = { 401: "Error", 403: "Error", 429: "Error" } as const;

/** The `bearer` and `client` macros, with the error shape as the `Error` model their refusals name. */
export function accessControl(deps: GuardDeps) {
  /** Runs `check` once per request, whichever step reaches it first. */
  const once = (check: (ctx: Context) => Promise<Principal | null>) => async (ctx: Context) => {
    if (!(PRINCIPAL in ctx)) ctx[PRINCIPAL] = await check(ctx);
  };
  const withBody = (check: (ctx: Context) => Promise<void>, limit: number | undefined, optional = false) =>
    limit === undefined
      ? { transform: check }
      : {
          transform: check,
          // Listed with its content type so the document names application/json alone.
          parse: [
            async (ctx: Context) => {
              await check(ctx);
              return readJson(ctx.request, limit, optional);
            },
            "application/json",
          ] as const,
          detail: { "x-max-body-bytes": limit },
        };

  return new Elysia({ name: "access-control" }).model({ Error: ErrorSchema }).macro({
    bearer: (access: BearerAccess) => {
      const surface = access.surface ?? "api";
      const check = once((ctx) => authorize(deps, ctx, surface, access.scope, access.cost ?? 1));
      const steps = withBody(check, access.body, access.bodyOptional);
      // Typed as what handlers see (the caller); Elysia's macro types do not take `parse` as
      // [handler, content type], nor refusals by model name, though it runs and documents both.
      return {
        ...steps,
        detail: { ...steps.detail, security: [{ bearerAuth: [access.scope] }], "x-scope": access.scope },
        response: { ...REFUSALS },
        resolve: (ctx: Context) => ({ principal: ctx[PRINCIPAL] as Principal }),
      } as unknown as { resolve: () => { principal: Principal } };
    },
    client: (access: ClientAccess) => {
      const check = once(async (ctx) => {
        await limitClient(deps, ctx, access.surface);
        return null;
      });
      const steps = withBody(check, access.body);
      return { ...steps, detail: { ...steps.detail, security: [] }, response: { 429: "Error" } } as unknown as { detail: object };
    },
  });
}
