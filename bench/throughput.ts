/**
 * @module A quick end-to-end throughput probe of the embedded deployment (the constant-rate
 * benchmarks with ceilings are `bun run bench`, bench/README.md): starts `hookrelay all` as a child
 * process with its rate limits off, a sink receiver in this process, sends N events in batches, and
 * reports ingest rate, delivery rate and ingest→delivery latency. The child is stopped however
 * the probe ends: done, failed, or SIGINT/SIGTERM.
 *
 *   bun bench/throughput.ts [events=50000] [batch=500] [webhooks=1] [rate=0] [bytes=0]
 *
 * rate 0 sends as fast as 4 producers can (a burst); rate N offers N events/s in batches
 * on a fixed schedule (open model), so latency is not inflated by a self-made backlog.
 * bytes N pads each event's data with N characters (large events: what a backlog holds in memory).
 * BENCH_CUSTOMERS=N spreads the batches over N customers, each with its own key and `webhooks`
 * webhooks (embedded shards own customers: one customer keeps one shard busy, see docs/every-core.md).
 */
import { client, waitFor } from "../tests/helpers/hookrelay.ts";
import { startHookrelay, stopHookrelay } from "./lib/hookrelay.ts";
import { memoryMiB, percentile, processTree, treeCpuMicros } from "./lib/measure.ts";

const [total = 50_000, batchSize = 500, webhooks = 1, rate = 0, padBytes = 0] = process.argv.slice(2).map(Number);
const PAD = "x".repeat(padBytes);
const CONCURRENCY = 4;
/** Event ids unique to this run, so runs against one PostgreSQL never collide as duplicates. */
const RUN = Math.random().toString(36).slice(2, 8);
const CUSTOMERS = Math.max(1, Number(process.env.BENCH_CUSTOMERS ?? 1));

const sentAt = new Map<string, number>();
const EVENT_ID = /^\{"id":"([^"]*)"/;
const latencies: number[] = [];
let delivered = 0;
/** Batches answered 503 (shed) and sent again. */
let refused = 0;
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

// A burst from 4 producers goes past the default ingest limits (20,000 events/s per customer and
// per IP) and many webhooks past the API's: this probe measures delivery, so startHookrelay turns
// them off (0), as for every bench run.
// HOOKRELAY_* variables of this process pass through (e.g. HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK);
// BENCH_CMD replaces the command, e.g. "bun --cpu-prof-md --cpu-prof-dir=/tmp/prof src/cli/main.ts all".
const { hr, token } = await startHookrelay();
let stopping: Promise<void> | undefined;
const stop = () => (stopping ??= stopHookrelay(hr).finally(() => sink.stop(true)));
let interrupted = false;
for (const [signal, code] of [
  ["SIGINT", 130],
  ["SIGTERM", 143],
] as const)
  process.on(signal, () => {
    interrupted = true;
    console.error(`throughput: ${signal}, stopping hookrelay (pid ${hr.proc.pid})`);
    void stop().finally(() => process.exit(code));
  });
try {
  const admin = client(hr.gateway, token);
  // The admin's own customer alone, or BENCH_CUSTOMERS customers with a key each.
  const keys: string[] = [];
  for (let c = 0; c < CUSTOMERS; c++) {
    if (CUSTOMERS === 1) {
      keys.push(token);
      break;
    }
    const id = `bench-${RUN}-${c}`;
    const made = await admin("POST", "/api/v1/customers", { id, name: id });
    if (made.status !== 201) throw new Error(`creating customer ${id} answered ${made.status}: ${JSON.stringify(made.body)}`);
    const key = await admin("POST", `/api/v1/customers/${id}/api-keys`, { name: "bench", scopes: ["webhooks:write", "events:write"] });
    if (key.status !== 201) throw new Error(`creating a key for ${id} answered ${key.status}: ${JSON.stringify(key.body)}`);
    keys.push(key.body.key);
  }
  for (const [c, key] of keys.entries())
    for (let w = 0; w < webhooks; w++) {
      const res = await client(hr.gateway, key)("POST", "/api/v1/webhooks", { url: `http://127.0.0.1:${sink.port}/c${c}w${w}`, event_types: ["bench"] });
      if (res.status !== 201) throw new Error(`creating webhook ${w} answered ${res.status}: ${JSON.stringify(res.body)}`);
    }
  if (CUSTOMERS > 1) await Bun.sleep(1500); // every shard's webhook index sees them
  const ingests = keys.map((key) => client(hr.ingest, key));
  const cpuBefore = treeCpuMicros(hr.proc.pid);

  const started = performance.now();
  const ingestLatencies: number[] = [];
  async function sendBatch(from: number): Promise<void> {
    const events = Array.from({ length: Math.min(batchSize, total - from) }, (_, i) => ({
      id: `b_${RUN}_${from + i}`,
      type: "bench",
      source: "bench",
      data: padBytes > 0 ? { n: from + i, pad: PAD } : { n: from + i },
    }));
    const now = performance.now();
    for (const e of events) sentAt.set(e.id, now);
    const ingest = ingests[(from / batchSize) % ingests.length]!;
    let res = await ingest("POST", "/events/batch", { events });
    // Shed (503 + Retry-After): sent again after the wait asked for, as a producer should.
    for (let tries = 0; res.status === 503 && res.headers.get("retry-after") && tries < 60 && !interrupted; tries++) {
      refused++;
      await Bun.sleep(Number(res.headers.get("retry-after")) * 1000);
      res = await ingest("POST", "/events/batch", { events });
    }
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
    // A batch that fails ends the schedule; its error is thrown once the batches in flight are done.
    const inFlight: Promise<void>[] = [];
    const failures: unknown[] = [];
    for (let from = 0; from < total && failures.length === 0 && !interrupted; from += batchSize) {
      const due = started + (from / rate) * 1000;
      if (due > performance.now()) await Bun.sleep(due - performance.now());
      inFlight.push(sendBatch(from).catch((err) => void failures.push(err)));
    }
    await Promise.all(inFlight);
    if (failures.length > 0) throw failures[0];
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
  const cpuUs = treeCpuMicros(hr.proc.pid) - cpuBefore;
  // Over shards: the sum of every process's peak.
  const peakRss = processTree(hr.proc.pid).reduce((sum, pid) => sum + memoryMiB(pid, "VmHWM"), 0);
  console.log(
    JSON.stringify({
      events: total,
      customers: CUSTOMERS,
      webhooks,
      offered_rate: rate || "burst",
      event_bytes: padBytes || undefined,
      deliveries: delivered,
      shed_batches: refused,
      ingest_events_per_s: Math.round(total / ingestSeconds),
      delivered_per_s: Math.round(delivered / totalSeconds),
      batch_ingest_ms: { p50: at(ingestLatencies, 50), p99: at(ingestLatencies, 99) },
      latency_ms: { p50: pct(50), p99: pct(99), max: latencies[latencies.length - 1]!.toFixed(1) },
      cpu_us_per_delivery: Math.round(cpuUs / delivered),
      peak_rss_mib: Math.round(peakRss),
    }),
  );
} catch (err) {
  // Once a signal has stopped hookrelay, requests to it fail: that is the interruption, not an error.
  if (!interrupted) throw err;
} finally {
  await stop();
}
