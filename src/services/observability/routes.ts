/** @module Observability's JSON stats (port 8085); the dashboard builds on these. */
import { Elysia } from "elysia";
import type { RetrySchedule, Store } from "../../domain/ports.ts";
import { type GuardDeps, authorize } from "../auth/guard.ts";

export interface StatsDeps {
  store: Store;
  schedule: RetrySchedule;
  guard: GuardDeps;
}

export function observabilityRoutes(deps: StatsDeps) {
  return new Elysia({ name: "observability" }).get("/api/stats", async ({ request, set, server }) => {
    // Counts over every customer: for the operator only.
    await authorize(deps.guard, { request, set, server }, "api", "admin");
    const [deliveries, retryQueueDepth] = await Promise.all([deps.store.countDeliveries(), deps.schedule.depth()]);
    const finished = deliveries.succeeded + deliveries.dead;
    return {
      deliveries,
      retry_queue_depth: retryQueueDepth,
      success_ratio: finished === 0 ? null : deliveries.succeeded / finished,
    };
  });
}
