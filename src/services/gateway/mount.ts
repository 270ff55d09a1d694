import { Elysia } from "elysia";
import { type RequestContext, readJson } from "../../platform/http.ts";
import { coerceQuery, compile } from "../../platform/validate.ts";
import { authorize, type GuardDeps, limitClient } from "../auth/guard.ts";
import type { Principal } from "../auth/tokens.ts";
import { type AnswerOf, type BodyOf, enabledOperations, type OPERATIONS, type Operation, type OperationId, type QueryOf, routerPath } from "./operations.ts";

/** The gateway's own request bodies (login, webhooks, customers, keys): at most 64 KiB. */
export const SMALL_BODY = 64 * 1024;

type Op<K extends OperationId> = (typeof OPERATIONS)[K];

/** The operations this table's handlers serve (not ingest's event routes, not /health and /metrics). */
export type GatewayOperationId = { [K in OperationId]: Op<K>["servedBy"] extends "gateway" ? K : never }[OperationId];

/** What a handler gets: the caller (for bearer operations), and its validated query and body. */
export interface Call<O> {
  principal: O extends { access: { kind: "bearer" } } ? Principal : null;
  params: Record<string, string>;
  query: QueryOf<O>;
  body: BodyOf<O>;
  request: Request;
  ctx: RequestContext;
}

export type Handlers = { [K in GatewayOperationId]: (call: Call<Op<K>>) => Promise<AnswerOf<Op<K>>> };

/** An Elysia plugin with every enabled gateway operation of the table, each with its handler. */
export function mountOperations(deps: GuardDeps, handlers: Handlers, features: { oauth: boolean }) {
  const app = new Elysia({ name: "gateway-operations" });
  for (const [id, op] of enabledOperations(features)) {
    if (op.servedBy !== "gateway") continue;
    const handler = handlers[id as GatewayOperationId] as unknown as (call: Call<Operation>) => Promise<unknown>;
    app.route(op.method.toUpperCase(), routerPath(op.path), serve(deps, op, handler), { parse: "none" });
  }
  return app;
}

function serve(deps: GuardDeps, op: Operation, handler: (call: Call<Operation>) => Promise<unknown>) {
  const query = op.query ? compile(op.query) : null;
  const body = op.body?.parsedBy === "route" && typeof op.body.schema !== "function" ? compile(op.body.schema) : null;
  if (op.body?.parsedBy === "route" && !body) throw new Error(`${op.method} ${op.path}: a body the route validates needs a fixed schema`);
  const readsJson = op.body !== undefined && op.body.parsedBy !== "handler";
  const { access } = op;

  return async ({
    request,
    params,
    query: rawQuery,
    set,
    server,
  }: RequestContext & { params: Record<string, string>; query: Record<string, string | undefined>; set: { status?: number | string } }) => {
    const ctx: RequestContext = { request, set, server };
    let principal: Principal | null = null;
    if (access.kind === "bearer") principal = await authorize(deps, ctx, access.surface, access.scope);
    else if (access.kind === "client") await limitClient(deps, ctx, access.surface);
    const parsedQuery = query ? query.parse(coerceQuery(op.query!, rawQuery), "query") : undefined;
    let parsedBody: unknown;
    if (readsJson) {
      parsedBody = await readJson(request, SMALL_BODY);
      if (body) parsedBody = body.parse(parsedBody);
    }
    const answer = await handler({ principal, params, query: parsedQuery, body: parsedBody, request, ctx } as Call<Operation>);
    // The status is read by the request counter too, so it is set for Responses as well.
    set.status = answer instanceof Response ? answer.status : op.ok.status;
    return op.ok.status === 204 && !(answer instanceof Response) ? "" : answer;
  };
}
