// @ts-check
/**
 * @module Scenario (e), isolation: WEBHOOKS (100) webhooks, each with its own event type; 5% point
 * at FAILING_URL (a receiver answering 500) and one at SLOW_URL (answers after 5 s), the rest at
 * SINK_URL. Events are spread evenly over the types, so healthy webhooks share the load with the
 * bad ones; the sink's p99 for healthy webhooks should stay within 2× of scenario (b).
 *
 *   K6_ADMIN_PASSWORD=… SINK_URL=… FAILING_URL=… SLOW_URL=… k6 run bench/k6/isolation.js
 */
import exec from "k6/execution";
import { constantRate, createWebhook, login, num, runPrefix, SINK, sendEvent, str, thresholds } from "./lib.js";

const WEBHOOKS = num("WEBHOOKS", 100);
const FAILING = Math.max(1, Math.round(WEBHOOKS * num("FAILING_SHARE", 0.05)));

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { isolation: constantRate(num("RATE", 5000), str("DURATION", "60s")) },
  thresholds: thresholds(num("P99_MS", 25)),
};

export function setup() {
  const token = login();
  const failing = str("FAILING_URL", `${SINK}/status/500`);
  const slow = str("SLOW_URL", `${SINK}/delay/5000`);
  for (let n = 0; n < WEBHOOKS; n++) {
    const url = n < FAILING ? `${failing}?w=${n}` : n === FAILING ? `${slow}?w=${n}` : `${SINK}/healthy/${n}`;
    createWebhook(token, url, [`bench.iso.${n}`]);
  }
  return { token, run: runPrefix() };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  const n = exec.scenario.iterationInTest % WEBHOOKS;
  sendEvent(data.token, data.run, { webhook: n, healthy: n > FAILING }, `bench.iso.${n}`);
}
