/**
 * @module The load-shedding server of `bench/shed-cost.ts`: hookrelay's HTTP app (the same hooks
 * every role runs, with its edge limits) shedding every event post, as ingest does at capacity.
 * Prints `{"port":N}` once listening on 127.0.0.1.
 */
import { createHttpApp, listen } from "../src/platform/http.ts";
import { createLogger } from "../src/platform/logger.ts";
import { createMetrics } from "../src/platform/metrics.ts";
import { PendingEvents } from "../src/services/ingest/accept.ts";
import { shedEvents } from "../src/services/ingest/routes.ts";

const full = new PendingEvents(1);
full.count = 1;
const app = createHttpApp({ role: "ingest", log: createLogger("silent"), metrics: createMetrics(), checks: {}, shed: shedEvents(full) }).post("/events", () => {
  throw new Error("a shed request reached its route");
});
const { port } = listen(app, "127.0.0.1", 0);
console.log(JSON.stringify({ port }));
