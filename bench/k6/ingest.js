// @ts-check
/**
 * @module Scenario (a), ingest only: RATE events/s (default 1000) for DURATION to POST /events,
 * with no webhook subscribed, so only acceptance is measured. Threshold: p99 < P99_MS (25).
 *
 *   K6_ADMIN_PASSWORD=… RATE=5000 k6 run bench/k6/ingest.js
 */
import { constantRate, login, num, runPrefix, sendEvent, str, thresholds } from "./lib.js";

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { ingest: constantRate(num("RATE", 1000), str("DURATION", "60s")) },
  thresholds: thresholds(num("P99_MS", 25)),
};

export function setup() {
  return { token: login(), run: runPrefix() };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  sendEvent(data.token, data.run, {}, str("EVENT_TYPE", "bench.unsubscribed"));
}
