/** @module Observability's JSON stats (port 8085); the dashboard builds on these. */
import { Elysia } from "elysia";
import type { RetrySchedule, Store } from "../../domain/ports.ts";
import { requireScope } from "../auth/scopes.ts";
import { type Credentials, authenticate } from "../auth/tokens.ts";

export interface StatsDeps {
  store: Store;
  schedule: RetrySchedule;
  credentials: Credentials;
}

export function observabilityRoutes(deps: StatsDeps) {
  return new Elysia({ name: "observability" }).get("/api/stats", async ({ request }) => {
    // Counts over every customer: for the operator only.
    requireScope(await authenticate(deps.credentials, request), "admin");
    const [deliveries, retryQueueDepth] = await Promise.all([deps.store.countDeliveries(), deps.schedule.depth()]);
    const finished = deliveries.succeeded + deliveries.dead;
    return {
      deliveries,
      retry_queue_depth: retryQueueDepth,
      success_ratio: finished === 0 ? null : deliveries.succeeded / finished,
    };
  });
}
