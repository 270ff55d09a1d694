/** @module Ingest's HTTP surface (port 8082): `POST /events` and `POST /events/batch`. */
import { Elysia } from "elysia";
import { readJson } from "../../platform/http.ts";
import { accessControl } from "../auth/access.ts";
import { authorize, charge, type GuardDeps } from "../auth/guard.ts";
import { acceptBatch, acceptEvent, type IngestDeps } from "./accept.ts";
import { EVENT_EXAMPLE, INGEST_MODELS } from "./models.ts";
import { documentedBatchSchema } from "./schema.ts";

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

/**
 * The event routes under a prefix: `/` on ingest, `/api/v1` on the gateway.
 *
 * Their bodies are validated once, by the use case (`acceptEvent`, `acceptBatch`), not by Elysia
 * too: the use case's errors name the event (`events[3].type: …`), and a batch of 1,000 events
 * would otherwise be checked twice on the hot path. The document shows the same schemas
 * (`EventInputSchema`, `documentedBatchSchema`) as the request bodies.
 */
export function eventRoutes(deps: IngestRouteDeps, prefix = "") {
  const tags = ["Events"];
  return new Elysia({ name: `events${prefix}` })
    .use(accessControl(deps))
    .model(INGEST_MODELS)
    .post(
      `${prefix}/events`,
      // Hand-tuned, not the `bearer` macro: the macro's steps (parse, transform, resolve) cost
      // 8-10 CPU-µs per request more at 5,000 events/s (embedded, A/B of 2 runs each: 164-170
      // against 156-158 per delivery), 6% of all a delivery costs. The same checks in the same
      // order: the token and rate limits before the body is read, then the body capped.
      async ({ request, set, server }) => {
        const principal = await authorize(deps, { request, set, server }, "ingest", "events:write");
        const result = await acceptEvent(deps, principal, await readJson(request, deps.maxEventBytes));
        set.status = result.status === "accepted" ? 202 : 200;
        return result;
      },
      {
        parse: "none",
        detail: {
          operationId: prefix ? "sendEvent" : "ingestEvent",
          tags,
          summary: "Send an event",
          description: `Answered once the event is durable; every matching webhook gets it at least once.${prefix ? " The same ingest route as the ingest role's `POST /events` (port 8082)." : ""} A duplicate (this id was accepted before) is answered 200 and not delivered again.`,
          // What the `bearer` macro would add to the document.
          security: [{ bearerAuth: ["events:write"] }],
          ...{
            "x-scope": "events:write",
            "x-max-body-bytes": deps.maxEventBytes,
            "x-errors": { 503: "the event could not be stored, or ingest is at capacity (`Retry-After`); nothing was kept" },
          },
          requestBody: { required: true, content: { "application/json": { schema: { $ref: "#/components/schemas/EventInput" }, example: EVENT_EXAMPLE } } },
          responses: {
            202: { description: "Accepted", content: { "application/json": { schema: { $ref: "#/components/schemas/EventAccepted" } } } },
            200: { description: "A duplicate: this id was accepted before; it is not delivered again", content: { "application/json": { schema: { $ref: "#/components/schemas/EventAccepted" } } } },
            401: { description: "" },
            403: { description: "" },
            429: { description: "" },
          },
        },
      },
    )
    .post(
      `${prefix}/events/batch`,
      async ({ principal, body, request, set, server }) => {
        const result = await acceptBatch(deps, principal, body, (events) => charge(deps, { request, set, server }, "ingest", principal, events));
        set.status = 202;
        return result;
      },
      {
        // Each event counts against the customer's rate: charged once they are counted.
        bearer: { scope: "events:write", surface: "ingest", body: deps.maxBatchBytes, cost: 0 },
        response: { 202: "BatchAccepted" },
        detail: {
          operationId: prefix ? "sendBatch" : "ingestBatch",
          tags,
          summary: "Send a batch of events",
          description: "All or nothing on validation: one invalid event refuses the whole batch, naming it (`events[3].type: …`). Each event counts against the customer's ingest rate limit.",
          requestBody: {
            required: true,
            content: { "application/json": { schema: documentedBatchSchema(deps.maxBatchEvents), example: { events: [EVENT_EXAMPLE, { ...EVENT_EXAMPLE, id: "evt_0002", type: "order.paid" }] } } },
          },
          "x-errors": { 503: "the events could not be stored, or ingest is at capacity (`Retry-After`); nothing was kept" },
        },
      },
    );
}
