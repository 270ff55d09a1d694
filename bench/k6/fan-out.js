// @ts-check
/**
 * @module Scenario (d), fan-out: each event matches WEBHOOKS (10) webhooks at SINK_URL/f<n>, so
 * deliveries = RATE × WEBHOOKS per second. RATE defaults to 1000 events/s.
 *
 *   K6_ADMIN_PASSWORD=… SINK_URL=http://sink:9000 k6 run bench/k6/fan-out.js
 */
import { constantRate, createWebhook, login, num, runPrefix, SINK, sendEvent, str, thresholds } from "./lib.js";

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { fan_out: constantRate(num("RATE", 1000), str("DURATION", "60s")) },
  thresholds: thresholds(num("P99_MS", 25)),
};

export function setup() {
  const token = login();
  const webhooks = Array.from({ length: num("WEBHOOKS", 10) }, (_, n) => createWebhook(token, `${SINK}/f${n}`));
  return { token, run: runPrefix(), webhooks };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  sendEvent(data.token, data.run);
}
