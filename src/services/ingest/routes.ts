/** @module Ingest's HTTP surface (port 8082): `POST /events` and `POST /events/batch`. */
import { Elysia } from "elysia";
import { readJson } from "../../platform/http.ts";
import { type GuardDeps, authorize, charge } from "../auth/guard.ts";
import { type IngestDeps, acceptBatch, acceptEvent } from "./accept.ts";

export interface IngestRouteDeps extends IngestDeps, GuardDeps {
  maxBatchBytes: number;
}

/** The event routes under a prefix: `/` on ingest, `/api/v1` on the gateway. */
export function eventRoutes(deps: IngestRouteDeps, prefix = "") {
  return new Elysia({ name: `events${prefix}` })
    .post(
      `${prefix}/events`,
      async ({ request, set, server }) => {
        const principal = await authorize(deps, { request, set, server }, "ingest", "events:write");
        const result = await acceptEvent(deps, principal, await readJson(request, deps.maxEventBytes));
        set.status = result.status === "accepted" ? 202 : 200;
        return result;
      },
      { parse: "none" },
    )
    .post(
      `${prefix}/events/batch`,
      async ({ request, set, server }) => {
        const ctx = { request, set, server };
        const principal = await authorize(deps, ctx, "ingest", "events:write", 0);
        const result = await acceptBatch(deps, principal, await readJson(request, deps.maxBatchBytes), (events) => charge(deps, ctx, "ingest", principal, events));
        set.status = 202;
        return result;
      },
      { parse: "none" },
    );
}
