// @ts-check
/**
 * @module Scenarios (b) and (c), end to end: one webhook to SINK_URL, RATE events/s (10000) for
 * DURATION (60s). TARGET=embedded (default: gateway :8080 and ingest :8082 of one `hookrelay all`)
 * or TARGET=production (set HOOKRELAY_GATEWAY_URL and HOOKRELAY_INGEST_URL to the role services);
 * the script is the same, only the URLs differ. Delivery latency and loss are counted by the
 * sink from `sent_at_ms` in each event's data; k6 checks ingest.
 *
 *   K6_ADMIN_PASSWORD=… SINK_URL=http://sink:9000 TARGET=production k6 run bench/k6/end-to-end.js
 */
import { fail } from "k6";
import { constantRate, createWebhook, login, num, runPrefix, SINK, sendEvent, str, thresholds } from "./lib.js";

const target = str("TARGET", "embedded");
if (target !== "embedded" && target !== "production") fail(`TARGET=${target}: expected embedded or production`);

/** @type {import("k6/options").Options} */
export const options = {
  scenarios: { [`e2e_${target}`]: constantRate(num("RATE", 10_000), str("DURATION", "60s")) },
  thresholds: thresholds(num("P99_MS", 25)),
  tags: { target },
};

export function setup() {
  const token = login();
  const webhook = createWebhook(token, `${SINK}/e2e`);
  return { token, run: runPrefix(), webhook };
}

/** @param {{ token: string, run: string }} data */
export default function (data) {
  sendEvent(data.token, data.run);
}
