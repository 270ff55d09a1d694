/** @module Retention: finished deliveries, their attempts and events older than `database.retention` are pruned. */
import type { Clock, Store } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";

const EVERY_MS = 60_000;
const BATCH = 1000;

/** Prunes in batches every minute; returns a stop function. */
export function startRetention(deps: { store: Store; clock: Clock; log: Logger }, retentionMs: number): () => void {
  let running = false;
  const prune = async () => {
    if (running) return;
    running = true;
    try {
      let total = 0;
      for (;;) {
        const removed = await deps.store.pruneFinished(deps.clock.now() - retentionMs, BATCH);
        total += removed;
        if (removed < BATCH) break;
      }
      if (total > 0) deps.log.info({ deliveries: total }, "pruned finished deliveries past retention");
    } catch (err) {
      deps.log.warn({ err }, "retention pruning failed; trying again later");
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void prune(), EVERY_MS);
  void prune();
  return () => clearInterval(timer);
}
