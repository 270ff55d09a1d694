/**
 * @module A quick end-to-end throughput probe of the embedded deployment (the full
 * benchmark suite with vegeta/wrk and ceilings arrives with its own issue):
 * starts `hookrelay all` as a child process, a sink receiver in this process, sends
 * N events in batches, and reports ingest rate, delivery rate and ingest→delivery latency.
 *
 *   bun bench/throughput.ts [events=50000] [batch=500] [webhooks=1] [rate=0]
 *
 * rate 0 sends as fast as 4 producers can (a burst); rate N offers N events/s in batches
 * on a fixed schedule (open model), so latency is not inflated by a self-made backlog.
 */
import { client, waitFor } from "../tests/helpers/hookrelay.ts";
import { startHookrelay, stopHookrelay } from "./lib/hookrelay.ts";
import { memoryMiB, percentile } from "./lib/measure.ts";

const [total = 50_000, batchSize = 500, webhooks = 1, rate = 0] = process.argv.slice(2).map(Number);
const CONCURRENCY = 4;
/** Event ids unique to this run, so runs against one PostgreSQL never collide as duplicates. */
const RUN = Math.random().toString(36).slice(2, 8);

const sentAt = new Map<string, number>();
const EVENT_ID = /^\{"id":"([^"]*)"/;
const latencies: number[] = [];
let delivered = 0;
const sink = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    // webhook-id is derived from (customer, event id); the event's own id is the body's first field.
    const id = EVENT_ID.exec(await request.text())?.[1] ?? "";
    delivered++;
    const sent = sentAt.get(id);
    if (sent !== undefined) latencies.push(performance.now() - sent);
    return new Response("ok");
  },
});

// HOOKRELAY_* variables of this process pass through (e.g. HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK);
// BENCH_CMD replaces the command, e.g. "bun --cpu-prof-md --cpu-prof-dir=/tmp/prof src/cli/main.ts all".
const { hr, token } = await startHookrelay();
const api = client(hr.gateway, token);
for (let w = 0; w < webhooks; w++) await api("POST", "/api/v1/webhooks", { url: `http://127.0.0.1:${sink.port}/w${w}`, event_types: ["bench"] });
const ingest = client(hr.ingest, token);

const started = performance.now();
const ingestLatencies: number[] = [];
async function sendBatch(from: number): Promise<void> {
  const events = Array.from({ length: Math.min(batchSize, total - from) }, (_, i) => ({ id: `b_${RUN}_${from + i}`, type: "bench", source: "bench", data: { n: from + i } }));
  const now = performance.now();
  for (const e of events) sentAt.set(e.id, now);
  const res = await ingest("POST", "/events/batch", { events });
  ingestLatencies.push(performance.now() - now);
  if (res.status !== 202) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.body)}`);
}
let next = 0;
async function producer(): Promise<void> {
  while (next < total) {
    const from = next;
    next += batchSize;
    await sendBatch(from);
  }
}
if (rate > 0) {
  const inFlight: Promise<void>[] = [];
  for (let from = 0; from < total; from += batchSize) {
    const due = started + (from / rate) * 1000;
    if (due > performance.now()) await Bun.sleep(due - performance.now());
    inFlight.push(sendBatch(from));
  }
  await Promise.all(inFlight);
} else {
  await Promise.all(Array.from({ length: CONCURRENCY }, producer));
}
const ingestSeconds = (performance.now() - started) / 1000;
await waitFor("all deliveries", () => delivered >= total * webhooks, 600_000, 20);
const totalSeconds = (performance.now() - started) / 1000;
latencies.sort((a, b) => a - b);
ingestLatencies.sort((a, b) => a - b);
const at = (values: number[], p: number) => percentile(values, p).toFixed(1);
const pct = (p: number) => at(latencies, p);
const peakRss = memoryMiB(hr.proc.pid, "VmHWM");
console.log(
  JSON.stringify({
    events: total,
    webhooks,
    offered_rate: rate || "burst",
    deliveries: delivered,
    ingest_events_per_s: Math.round(total / ingestSeconds),
    delivered_per_s: Math.round(delivered / totalSeconds),
    batch_ingest_ms: { p50: at(ingestLatencies, 50), p99: at(ingestLatencies, 99) },
    latency_ms: { p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1]!.toFixed(1) },
    peak_rss_mib: Math.round(peakRss),
  }),
);
await stopHookrelay(hr);
sink.stop(true);
