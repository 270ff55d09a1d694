// @ts-check
/**
 * @module Scenario (g), soak: RATE (5000) events/s for DURATION (10m) to one webhook at SINK_URL.
 * Watch the hookrelay processes' RSS meanwhile (it should stay within 10% after warm-up);
 * k6 holds ingest to the same thresholds for the whole run.
 *
 *   K6_ADMIN_PASSWORD=… SINK_URL=http://sink:9000 k6 run bench/k6/soak.js
 */
import { constantRate, createWebhook, login, num, runPrefix, SINK, sendEvent, str, thresholds } from "./lib.js";

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { soak: constantRate(num("RATE", 5000), str("DURATION", "10m")) },
  thresholds: thresholds(num("P99_MS", 25)),
};

export function setup() {
  const token = login();
  createWebhook(token, `${SINK}/soak`);
  return { token, run: runPrefix() };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  sendEvent(data.token, data.run);
}
