// @ts-check
/**
 * @module Scenario (f), many origins: ORIGINS (1000) webhooks, each on its own origin
 * SINK_HOST:(SINK_BASE_PORT + n) (a receiver listening on that port range), each with its own
 * event type, events round-robin over them: exposes connection churn in the dispatcher.
 *
 *   K6_ADMIN_PASSWORD=… SINK_HOST=10.0.0.5 SINK_BASE_PORT=20000 k6 run bench/k6/origins.js
 */
import exec from "k6/execution";
import { constantRate, createWebhook, login, num, runPrefix, sendEvent, str, thresholds } from "./lib.js";

const ORIGINS = num("ORIGINS", 1000);

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { origins: constantRate(num("RATE", 5000), str("DURATION", "60s")) },
  thresholds: thresholds(num("P99_MS", 25)),
  setupTimeout: "5m",
};

export function setup() {
  const token = login();
  const host = str("SINK_HOST", "127.0.0.1");
  const base = num("SINK_BASE_PORT", 20_000);
  for (let n = 0; n < ORIGINS; n++) createWebhook(token, `http://${host}:${base + n}/o`, [`bench.origin.${n}`]);
  return { token, run: runPrefix() };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  const n = exec.scenario.iterationInTest % ORIGINS;
  sendEvent(data.token, data.run, { origin: n }, `bench.origin.${n}`);
}
