/** @module Retrying a write that must happen (a backend hiccup must not strand work until a restart). */
import type { Logger } from "./logger.ts";

const FIRST_DELAY_MS = 50;
const MAX_DELAY_MS = 5_000;

/**
 * Runs `write` until it succeeds, backing off from 50 ms to 5 s between failures, and
 * logging each one. Gives up (rejecting with the last error) only once `stopped()` is
 * true, so shutdown is never held hostage by a dead backend.
 */
export async function retryUntilStopped<T>(write: () => Promise<T>, stopped: () => boolean, log: Logger, what: string): Promise<T> {
  let delay = FIRST_DELAY_MS;
  for (;;) {
    try {
      return await write();
    } catch (err) {
      if (stopped()) throw err;
      log.warn({ err, retryInMs: delay }, `${what} failed; trying again`);
      await Bun.sleep(delay);
      delay = Math.min(MAX_DELAY_MS, delay * 2);
    }
  }
}
