/** @module Ingest's HTTP surface (port 8082): `POST /events` and `POST /events/batch`. */
import { Elysia } from "elysia";
import { readJson } from "../../platform/http.ts";
import { requireScope } from "../auth/scopes.ts";
import { type Credentials, type Principal, authenticate } from "../auth/tokens.ts";
import { type IngestDeps, acceptBatch, acceptEvent } from "./accept.ts";

export interface IngestRouteDeps extends IngestDeps {
  credentials: Credentials;
  maxBatchBytes: number;
}

/** The event routes under a prefix: `/` on ingest, `/api/v1` on the gateway. */
export function eventRoutes(deps: IngestRouteDeps, prefix = "") {
  const producer = async (request: Request): Promise<Principal> => {
    const principal = await authenticate(deps.credentials, request);
    requireScope(principal, "events:write");
    return principal;
  };
  return new Elysia({ name: `events${prefix}` })
    .post(
      `${prefix}/events`,
      async ({ request, set }) => {
        const principal = await producer(request);
        const result = await acceptEvent(deps, principal, await readJson(request, deps.maxEventBytes));
        set.status = result.status === "accepted" ? 202 : 200;
        return result;
      },
      { parse: "none" },
    )
    .post(
      `${prefix}/events/batch`,
      async ({ request, set }) => {
        const principal = await producer(request);
        const result = await acceptBatch(deps, principal, await readJson(request, deps.maxBatchBytes));
        set.status = 202;
        return result;
      },
      { parse: "none" },
    );
}
