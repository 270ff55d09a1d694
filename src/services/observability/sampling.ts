/** @module The observability role's clock: reads every role's metrics into the recent activity at a steady pace. */
import type { Clock } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";
import type { RecentActivity } from "./recent-activity.ts";
import type { Scraper } from "./scraper.ts";

/** Reads every role's metrics into the recent activity every `intervalMs`; returns the stop. */
export function startSampling(deps: { scraper: Scraper; activity: RecentActivity; clock: Clock; log: Logger }, intervalMs: number): () => void {
  let busy = false;
  const sample = async () => {
    if (busy) return;
    busy = true;
    try {
      deps.activity.record(await deps.scraper.read(), deps.clock.now());
    } catch (err) {
      deps.log.warn({ err }, "could not sample the metrics");
    } finally {
      busy = false;
    }
  };
  void sample();
  const timer = setInterval(sample, intervalMs);
  return () => clearInterval(timer);
}
