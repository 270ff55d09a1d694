/** @module Ingest's HTTP surface (port 8082): `POST /events` and `POST /events/batch`. */
import { Elysia } from "elysia";
import { readJson } from "../../platform/http.ts";
import { authorize, charge, type GuardDeps } from "../auth/guard.ts";
import { acceptBatch, acceptEvent, type IngestDeps } from "./accept.ts";

export interface IngestRouteDeps extends IngestDeps, GuardDeps {
  maxBatchBytes: number;
}

/** `POST /events` or `/events/batch`, on ingest or under the gateway's `/api/v1`: what load shedding refuses (HttpDeps.shed). */
const EVENT_PATH = /^[a-z]+:\/\/[^/]+(\/api\/v1)?\/events(\/batch)?\/?(\?|$)/;

/**
 * Why `request` is refused now that ingest is at capacity, or null (anything but an event post is
 * served): too many events wait to be stored, or the event loop runs more than `maxLagMs` behind
 * (requests wait in the sockets before anything reads them; the pending count cannot see those).
 */
export function shedEvents(pending: { full(): string | null }, loop: { ms: number } = { ms: 0 }, maxLagMs = 0): (request: Request) => string | null {
  return (request) => {
    if (request.method !== "POST" || !EVENT_PATH.test(request.url)) return null;
    if (maxLagMs > 0 && loop.ms > maxLagMs) return `ingest is at capacity (its event loop is ${Math.round(loop.ms)} ms behind); retry in a second`;
    return pending.full();
  };
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
