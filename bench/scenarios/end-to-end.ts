/**
 * @module Scenarios (b)–(g), end to end: hookrelay (embedded `all`, or the production roles each in
 * its own process), bench/sink.ts as every webhook's receiver (http, or https with a certificate
 * hookrelay trusts through dispatcher.trusted_ca_file), vegeta offering each rate with a real
 * send time in every body; then a drain wait, the sink's counts and latencies, CPU and RSS of the
 * hookrelay processes from /proc, and the scenario's bounds checked.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Ceilings, sameRateCosts } from "../lib/ceilings.ts";
import { spawnBenchScript } from "../lib/children.ts";
import { type Deployment, startEmbedded, startProduction } from "../lib/hookrelay.ts";
import { cpuMicros, memoryMiB, round, treeCpuMicros } from "../lib/measure.ts";
import type { Receiver } from "../lib/receiver.ts";
import { cpuRatioServePlusFetch, type DeliveryFigures, ingestStep, type Result, type Step, type Verdict } from "../lib/results.ts";
import { runPacedAttack } from "../lib/vegeta.ts";
import { type E2EScenario, layout } from "./layouts.ts";

export interface EndToEndOptions {
  scenario: E2EScenario;
  deployment: "embedded" | "production";
  rates: number[];
  seconds: number;
  /** Bounds: ingest p99 (vegeta) and ingest→delivery p99 (sink), ms. */
  p99BoundMs: number;
  deliveryP99BoundMs: number;
  /** Isolation: the healthy p99 must stay within 2× this (null: read scenario (b)'s latest result). */
  baselineP99Ms: number | null;
  resultsDirs: string[];
  drainSeconds: number;
  warmupSeconds: number;
  sampleSeconds: number;
  sigEvery: number;
  /** Put BENCH_FILTER on every webhook (--filter): what a payload filter costs per delivery. */
  filter: boolean;
  /** The generator's connections at most (null: as many as the rate needs). */
  maxConnections: number | null;
  /** Events spread over this many customers, each with the scenario's webhooks (1: the admin's own). */
  customers: number;
  /** After each step, raw Bun.serve and raw fetch at the step's rate too (ratio like for like). */
  sameRate: boolean;
  vegeta: string;
  ceilings: Ceilings;
  receiver: Receiver;
  log(line: string): void;
}

type E2EResult = Pick<
  Result,
  "command" | "idle_cpu_us_per_s" | "steps" | "peak_rss_mib" | "highest_rate_within_p99" | "deployment" | "webhooks" | "processes" | "peak_rss_mib_by_process" | "rss_samples" | "verdict"
>;

interface SinkStats {
  received: number;
  healthy: { deliveries: number; distinct: number; duplicates: number };
  failed_answers: number;
  slow_answers: number;
  signatures: { checked: number; bad: number; unsigned: number };
  no_sent_at: number;
  connections: number;
  latency_ms: { count: number; p50: number; p99: number; max: number };
  healthy_latency_ms: { count: number; p50: number; p99: number; max: number };
}

/**
 * Ten conditions every bench event passes (so the deliveries are the same as without it): what
 * `--filter` puts on every webhook. Each kind of operator, a regex (RE2), and an `$or`.
 */
export const BENCH_FILTER = {
  "data.n": { $gte: 0, $lt: 1e15 },
  "data.sent_at_ms": { $exists: true, $gt: 0 },
  source: { $eq: "bench", $in: ["bench", "load"] },
  type: { $regex: "^bench", $neq: "bench.never" },
  $or: [{ "data.n": { $nin: [-1] } }, { id: "none" }],
};

const pick = ({ p50, p99, max }: { p50: number; p99: number; max: number }) => ({ p50, p99, max });

export async function endToEndScenario(o: EndToEndOptions): Promise<E2EResult> {
  const plan = layout(o.scenario);
  const baseline = o.scenario === "isolation" ? (o.baselineP99Ms ?? latestEmbeddedP99(o.resultsDirs, o.rates[0]!, o.receiver.scheme)) : null;
  if (o.scenario === "isolation") o.log(`bench: isolation baseline p99 ${baseline ?? "unknown (no embedded result; pass --baseline-p99-ms)"} ms`);
  // Over several customers, each its own port too: hookrelay never reuses a connection to an origin two customers use.
  const sinkPorts = Math.max(plan.sinkPorts, o.customers > 1 ? o.customers : 0);
  const sink = await spawnBenchScript<{ port: number; ports: number[] }>("sink.ts", [], 60_000, { PORTS: String(sinkPorts), ...o.receiver.sinkEnv });
  const control = sinkControl(o.receiver, sink.first.port);
  let hr: Deployment | undefined;
  const dir = mkdtempSync(join(tmpdir(), `bench-${o.scenario}-`));
  const run = Math.random().toString(36).slice(2, 8);
  try {
    hr = o.deployment === "production" ? await startProduction(o.log, o.receiver.hookrelayEnv) : await startEmbedded(o.receiver.hookrelayEnv);
    const tokens = await customerTokens(hr, o.customers, run);
    // Customer c's webhooks at the plan's paths under /c<c>, each path with its own secret.
    const paths = (c: number, path: string) => (tokens.length === 1 ? path : `${path}/c${c}`);
    const secrets = await createWebhooks(
      hr,
      o.filter ? BENCH_FILTER : null,
      tokens.flatMap((token, c) =>
        plan.webhooks.map((w) => {
          const port = w.port >= 0 ? sink.first.ports[w.port]! : tokens.length > 1 ? sink.first.ports[c]! : sink.first.port;
          return { ...w, token, path: paths(c, w.path), url: o.receiver.url(port, paths(c, w.path)) };
        }),
      ),
    );
    await control.post("/_config", { secrets, sig_every: o.sigEvery });
    o.log(
      `bench: ${o.scenario} on ${hr.kind} (${hr.processes.map((p) => `${p.role} pid ${p.pid}`).join(", ")}), ${plan.webhooks.length} webhook(s)${o.filter ? " with a 10-condition filter" : ""}, ${o.receiver.scheme} receiver`,
    );
    const warmupMs = await warmUp(hr, tokens, control, plan, run);
    o.log(`bench: warm-up (${WARMUP_EVENTS} events, not measured) delivered in ${warmupMs} ms`);
    const pids = hr.processes.map((p) => p.pid);
    const cpu = () => pids.reduce((sum, pid) => sum + cpuMicros(pid), 0);
    // Idle CPU (pollers, timers); the wait also lets every dispatcher see the new webhooks.
    const backends = hr.backends;
    const backendCpu = () => Object.fromEntries((backends ?? []).map((b) => [b.name, treeCpuMicros(b.pid)]));
    const backendsCpu = () => Object.values(backendCpu()).reduce((sum, us) => sum + us, 0);
    const backendsIdleBefore = backendsCpu();
    const idleBefore = cpu();
    await Bun.sleep(2000);
    const idleCpuUsPerS = round((cpu() - idleBefore) / 2, 0);
    const backendsIdleCpuUsPerS = backends ? round((backendsCpu() - backendsIdleBefore) / 2, 0) : undefined;
    o.log(
      `bench: hookrelay idle ${idleCpuUsPerS} CPU-µs/s${backendsIdleCpuUsPerS === undefined ? "" : `, backends (${backends!.map((b) => b.name).join(", ")}) idle ${backendsIdleCpuUsPerS} CPU-µs/s`}`,
    );

    const steps: Step[] = [];
    let samples: { t_s: number; rss_mib: number }[] = [];
    for (const [index, rate] of o.rates.entries()) {
      await control.post("/_reset", {});
      const prefix = `e${run}s${index}`;
      const cpuBefore = cpu();
      const backendCpuBefore = backendCpu();
      const backendsCpuBefore = Object.values(backendCpuBefore).reduce((sum, us) => sum + us, 0);
      const sinkCpuBefore = cpuMicros(sink.proc.pid);
      const began = performance.now();
      samples = [];
      const sampler = setInterval(() => {
        try {
          samples.push({
            t_s: round((performance.now() - began) / 1000, 1),
            rss_mib: round(
              pids.reduce((sum, pid) => sum + memoryMiB(pid, "VmRSS"), 0),
              1,
            ),
          });
        } catch {}
      }, o.sampleSeconds * 1000);
      let report: Awaited<ReturnType<typeof runPacedAttack>>;
      try {
        report = await runPacedAttack(o.vegeta, dir, `${index}`, {
          url: `${hr.ingest}/events`,
          tokens,
          rate,
          seconds: o.seconds,
          body: (n, sentAt) => `{"id":"${prefix}_${n}","type":"${plan.type(n)}","source":"bench","data":{"n":${n},"sent_at_ms":${sentAt.toFixed(3)}}}`,
          maxConnections: o.maxConnections ?? undefined,
        });
      } finally {
        clearInterval(sampler);
      }
      const broken = hr.broken();
      if (broken) throw new Error(`during the ${rate}/s step: ${broken}`);
      let expected = 0;
      for (let n = 0; n < report.requests; n++) expected += plan.healthyTargets(n);
      const attackEnd = performance.now();
      const drainDeadline = attackEnd + o.drainSeconds * 1000;
      let quick = await control.get<SinkStats>("/_stats?quick");
      while (quick.healthy.distinct < expected && performance.now() < drainDeadline) {
        await Bun.sleep(250);
        quick = await control.get<SinkStats>("/_stats?quick");
      }
      const drainS = round((performance.now() - attackEnd) / 1000, 1);
      const cpuUsed = cpu() - cpuBefore;
      const backendCpuAfter = backendCpu();
      const backendsCpuUsed = Object.values(backendCpuAfter).reduce((sum, us) => sum + us, 0) - backendsCpuBefore;
      const sinkCpu = cpuMicros(sink.proc.pid) - sinkCpuBefore;
      const elapsedS = (performance.now() - began) / 1000;
      // Deliveries a moment after the last expected one are duplicates or stragglers: give them a breath.
      await Bun.sleep(500);
      const stats = await control.get<SinkStats>("/_stats");
      const accepted = report.status_codes["202"] ?? 0;
      const distinct = stats.healthy.distinct;
      const deliveredPerS = round(distinct / elapsedS, 1);
      const cpuPerDelivery = distinct > 0 ? round(cpuUsed / distinct) : Number.NaN;
      const cpuPerEvent = accepted > 0 ? round(cpuUsed / accepted) : Number.NaN;
      const rssByProcess = Object.fromEntries(hr.processes.map((p) => [p.role, memoryMiB(p.pid, "VmRSS")]));
      // One request in and one out at this step's pace, measured while hookrelay idles after it.
      const sameRate = o.sameRate ? await sameRateCosts(o.vegeta, rate, Math.min(5, o.seconds), o.receiver) : null;
      const delivery: DeliveryFigures = {
        expected,
        received: stats.healthy.deliveries,
        distinct,
        lost: expected - distinct,
        duplicates: stats.healthy.duplicates,
        signatures_checked: stats.signatures.checked,
        bad_signatures: stats.signatures.bad,
        failed_answers: stats.failed_answers,
        slow_delivered: stats.slow_answers,
        connections: stats.connections,
        latency_ms: pick(stats.latency_ms),
        healthy_latency_ms: pick(stats.healthy_latency_ms),
        timestamp_lead_ms: report.lead_ms,
        drain_s: drainS,
        delivered_per_s: deliveredPerS,
        cpu_us_per_delivery: cpuPerDelivery,
        ...(backends && distinct > 0
          ? {
              backends_cpu_us_per_delivery: round(backendsCpuUsed / distinct),
              backend_cpu_us_per_delivery: Object.fromEntries(Object.entries(backendCpuAfter).map(([name, us]) => [name, round((us - (backendCpuBefore[name] ?? 0)) / distinct)])),
            }
          : {}),
        sink_cpu_us_per_delivery: stats.received > 0 ? round(sinkCpu / stats.received) : Number.NaN,
        rss_mib_by_process: rssByProcess,
        ratios: {
          delivered_to_fetch_ceiling: round(deliveredPerS / o.ceilings.fetch_post.per_s, 3),
          delivered_to_serve_ceiling: round(deliveredPerS / o.ceilings.serve_post.per_s, 3),
          cpu_to_fetch_ceiling: round(cpuPerDelivery / o.ceilings.fetch_post.cpu_us_per_request, 1),
          cpu_ratio_serve_plus_fetch: cpuRatioServePlusFetch(cpuPerDelivery, o.ceilings),
          ...(sameRate ? { cpu_ratio_same_rate: round(cpuPerDelivery / (sameRate.serve_us + sameRate.fetch_us)) } : {}),
        },
        ...(sameRate ? { same_rate: { serve_us: sameRate.serve_us, fetch_us: sameRate.fetch_us } } : {}),
      };
      steps.push({
        ...ingestStep({
          rate,
          seconds: o.seconds,
          report,
          cpuUsPerEvent: cpuPerEvent,
          rssMib: round(
            Object.values(rssByProcess).reduce((a, b) => a + b, 0),
            1,
          ),
          ceilings: o.ceilings,
        }),
        delivery,
      });
      o.log(
        `bench: ${o.scenario} ${rate}/s × ${o.seconds}s → ${accepted}/${rate * o.seconds} accepted (ingest p99 ${report.latencies_ms.p99} ms); ` +
          `${distinct}/${expected} delivered (${deliveredPerS}/s), ${delivery.lost} lost, ${delivery.duplicates} duplicates, ${delivery.bad_signatures}/${delivery.signatures_checked} bad signatures; ` +
          `ingest→delivery p50 ${delivery.healthy_latency_ms.p50} p99 ${delivery.healthy_latency_ms.p99} max ${delivery.healthy_latency_ms.max} ms; ` +
          `${cpuPerDelivery} CPU-µs/delivery (${delivery.ratios.cpu_ratio_serve_plus_fetch}× a raw Bun.serve request + raw ${o.receiver.scheme} fetch, ${round(o.ceilings.serve_post.cpu_us_per_request + o.ceilings.fetch_post.cpu_us_per_request)} µs` +
          (sameRate ? `; ${delivery.ratios.cpu_ratio_same_rate}× the two at ${rate}/s, ${sameRate.serve_us} + ${sameRate.fetch_us} µs` : "") +
          `), ` +
          (delivery.backends_cpu_us_per_delivery === undefined
            ? ""
            : `+ ${delivery.backends_cpu_us_per_delivery} in PostgreSQL, Redis and Kafka (${Object.entries(delivery.backend_cpu_us_per_delivery ?? {})
                .map(([n, us]) => `${n} ${us}`)
                .join(", ")}), `) +
          `${delivery.connections} connections, drained in ${drainS}s`,
      );
    }
    const hwm = Object.fromEntries(hr.processes.map((p) => [p.role, memoryMiB(p.pid, "VmHWM")]));
    const peak = round(
      Object.values(hwm).reduce((a, b) => a + b, 0),
      1,
    );
    const within = steps.filter((s) => s.latency_ms.p99 < o.p99BoundMs && s.lost === 0).map((s) => s.offered_per_s);
    return {
      command: hr.command,
      idle_cpu_us_per_s: idleCpuUsPerS,
      ...(backendsIdleCpuUsPerS === undefined ? {} : { backends_idle_cpu_us_per_s: backendsIdleCpuUsPerS }),
      steps,
      peak_rss_mib: peak,
      highest_rate_within_p99: { bound_ms: o.p99BoundMs, rate: within.length > 0 ? Math.max(...within) : null },
      deployment: hr.kind,
      webhooks: plan.webhooks.length,
      processes: hr.processes.map((p) => p.role),
      peak_rss_mib_by_process: hwm,
      ...(o.scenario === "soak" ? { rss_samples: samples } : {}),
      verdict: verdict(o, steps, baseline, samples),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await hr?.stop();
    await sink.stop();
  }
}

/** The scenario's bounds, per step (all steps must pass). */
export function verdict(
  o: Pick<EndToEndOptions, "scenario" | "p99BoundMs" | "deliveryP99BoundMs" | "warmupSeconds">,
  steps: Step[],
  baselineP99Ms: number | null,
  samples: { t_s: number; rss_mib: number }[],
): Verdict {
  const checks: Verdict["checks"] = [];
  const add = (check: string, ok: boolean, value: string) => checks.push({ check, ok, value });
  for (const s of steps) {
    const d = s.delivery!;
    const at = steps.length > 1 ? ` @${s.offered_per_s}/s` : "";
    add(`no bad signatures${at}`, d.bad_signatures === 0 && d.signatures_checked > 0, `${d.bad_signatures} of ${d.signatures_checked} checked`);
    if (o.scenario !== "soak" && o.scenario !== "isolation") add(`zero lost${at}`, d.lost === 0, `${d.lost} of ${d.expected}`);
    if (o.scenario === "isolation") add(`zero lost at healthy webhooks${at}`, d.lost === 0, `${d.lost} of ${d.expected}`);
    if (o.scenario === "embedded" || o.scenario === "production" || o.scenario === "fan-out")
      add(`ingest p99 ≤ ${o.p99BoundMs} ms${at}`, s.latency_ms.p99 <= o.p99BoundMs && s.accepted === s.requests, `${s.latency_ms.p99} ms, ${s.requests - s.accepted} not accepted`);
    if (o.scenario === "embedded" || o.scenario === "production")
      add(`ingest→delivery p99 ≤ ${o.deliveryP99BoundMs} ms${at}`, d.healthy_latency_ms.p99 <= o.deliveryP99BoundMs, `${d.healthy_latency_ms.p99} ms`);
    if (o.scenario === "isolation")
      add(
        `healthy ingest→delivery p99 ≤ 2 × baseline${at}`,
        baselineP99Ms !== null && d.healthy_latency_ms.p99 <= 2 * baselineP99Ms,
        baselineP99Ms === null ? "no baseline: run `bun run bench embedded` or pass --baseline-p99-ms" : `${d.healthy_latency_ms.p99} ms vs 2 × ${baselineP99Ms} ms`,
      );
    if (o.scenario === "origins") add(`connection churn reported${at}`, Number.isFinite(d.connections), `${d.connections} connections for ${d.distinct} deliveries`);
  }
  if (o.scenario === "soak") {
    const flat = rssFlatness(samples, o.warmupSeconds);
    add(
      `RSS flat within 10% after ${o.warmupSeconds}s warm-up (peak of each ${RSS_WINDOW_S}s window, max ÷ min)`,
      flat !== null && flat.peakRatio <= 1.1,
      flat === null
        ? `fewer than two ${RSS_WINDOW_S}s windows of samples after warm-up`
        : `window peaks ${flat.peaks.join(", ")} MiB (${round((flat.peakRatio - 1) * 100, 1)}%); samples ${flat.min}–${flat.max} MiB (${round((flat.max / flat.min - 1) * 100, 1)}%: GC cycles)`,
    );
  }
  return { pass: checks.every((c) => c.ok), checks };
}

/** The soak's RSS windows, s: long enough to hold several GC cycles, short enough to show a trend. */
export const RSS_WINDOW_S = 60;

/**
 * How flat RSS stayed after the warm-up. A single sample says where the collector happened to be in
 * its cycle (the samples of a steady process swing ~20% between collections); the peak of each window
 * is what memory must be provisioned for, and growth (a leak) raises the later windows' peaks. Null
 * with fewer than two windows. A window counts once a sample falls in its second half: a trailing
 * window with a sample or two has had less chance to catch a peak.
 */
export function rssFlatness(samples: { t_s: number; rss_mib: number }[], warmupSeconds: number): { peaks: number[]; peakRatio: number; min: number; max: number } | null {
  const after = samples.filter((s) => s.t_s >= warmupSeconds);
  const peaks: number[] = [];
  const spans: number[] = [];
  for (const s of after) {
    const offset = s.t_s - warmupSeconds;
    const w = Math.floor(offset / RSS_WINDOW_S);
    peaks[w] = Math.max(peaks[w] ?? 0, s.rss_mib);
    spans[w] = Math.max(spans[w] ?? 0, offset - w * RSS_WINDOW_S);
  }
  const whole = peaks.filter((p, w) => p !== undefined && spans[w]! >= RSS_WINDOW_S / 2);
  if (whole.length < 2) return null;
  const values = after.map((s) => s.rss_mib);
  return { peaks: whole, peakRatio: Math.max(...whole) / Math.min(...whole), min: Math.min(...values), max: Math.max(...values) };
}

const WARMUP_EVENTS = 50;

/**
 * Sends a few events one by one and waits for their deliveries, so the first step does not
 * measure a cold start (the first Kafka produce and topic metadata, first connections); returns ms.
 */
/** The admin's token alone, or a new customer's API key for each of `count` customers. */
async function customerTokens(hr: Deployment, count: number, run: string): Promise<string[]> {
  if (count === 1) return [hr.token];
  const admin = (path: string, body: unknown) =>
    fetch(`${hr.gateway}${path}`, { method: "POST", headers: { authorization: `Bearer ${hr.token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  const tokens: string[] = [];
  for (let c = 0; c < count; c++) {
    const id = `bench-${run}-${c}`;
    const made = await admin("/api/v1/customers", { id, name: id });
    if (made.status !== 201) throw new Error(`creating customer ${id} answered ${made.status}: ${await made.text()}`);
    const key = await admin(`/api/v1/customers/${id}/api-keys`, { name: "bench", scopes: ["webhooks:write", "events:write"] });
    if (key.status !== 201) throw new Error(`creating a key for ${id} answered ${key.status}: ${await key.text()}`);
    tokens.push(((await key.json()) as { key: string }).key);
  }
  return tokens;
}

async function warmUp(hr: Deployment, tokens: string[], control: SinkControl, plan: ReturnType<typeof layout>, run: string): Promise<number> {
  const started = performance.now();
  let expected = 0;
  for (let n = 0; n < WARMUP_EVENTS; n++) {
    expected += plan.healthyTargets(n);
    const body = `{"id":"w${run}_${n}","type":"${plan.type(n)}","source":"bench","data":{"n":${n},"sent_at_ms":${performance.timeOrigin + performance.now()}}}`;
    const res = await fetch(`${hr.ingest}/events`, { method: "POST", body, headers: { authorization: `Bearer ${tokens[n % tokens.length]}`, "content-type": "application/json" } });
    if (res.status !== 202) throw new Error(`warm-up event ${n} answered ${res.status}: ${await res.text()}`);
  }
  const deadline = performance.now() + 60_000;
  while ((await control.get<SinkStats>("/_stats?quick")).healthy.distinct < expected) {
    if (performance.now() > deadline) throw new Error(`warm-up: ${expected} deliveries not all at the sink after 60 s`);
    await Bun.sleep(100);
  }
  await control.post("/_reset", {});
  return Math.round(performance.now() - started);
}

/** Creates the webhooks (8 at a time; a 429 waits its Retry-After, as API clients should) and returns each path's signing secret. */
async function createWebhooks(hr: Deployment, filter: object | null, webhooks: { url: string; path: string; types: string[]; token: string }[]): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  let next = 0;
  const worker = async () => {
    while (next < webhooks.length) {
      const w = webhooks[next++]!;
      let res: Response;
      for (;;) {
        res = await fetch(`${hr.gateway}/api/v1/webhooks`, {
          method: "POST",
          headers: { authorization: `Bearer ${w.token}`, "content-type": "application/json" },
          body: JSON.stringify({ url: w.url, event_types: w.types, ...(filter ? { filter } : {}) }),
        });
        if (res.status !== 429) break;
        await Bun.sleep(Number(res.headers.get("retry-after") ?? 1) * 1000);
      }
      const body = (await res.json()) as { secret?: string };
      if (res.status !== 201 || !body.secret) throw new Error(`creating the webhook at ${w.path} answered ${res.status}: ${JSON.stringify(body)}`);
      secrets[w.path] = body.secret;
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return secrets;
}

/** Scenario (b)'s healthy p99 at exactly `rate` with the same receiver scheme, from the newest result that has that step, or null. */
export function latestEmbeddedP99(dirs: string[], rate: number, receiver: Receiver["scheme"] = "http"): number | null {
  // The newest embedded run that offered this very rate: a baseline from another rate (say a
  // collapsed 10k/s run for a 5k/s isolation run) would make the bound meaningless.
  let best: { date: string; p99: number } | undefined;
  for (const dir of dirs) {
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => /^embedded-.*\.json$/.test(f));
    } catch {}
    for (const f of files) {
      const r = JSON.parse(readFileSync(join(dir, f), "utf8")) as Result;
      if ((r.receiver ?? "http") !== receiver || r.label) continue; // a labelled run (1 core, a cap) is not the baseline
      const step = r.steps.find((s) => s.delivery && s.offered_per_s === rate);
      if (step && (!best || r.date > best.date)) best = { date: r.date, p99: step.delivery!.healthy_latency_ms.p99 };
    }
  }
  return best?.p99 ?? null;
}

/** The sink's control paths (`/_stats`, `/_reset`, `/_config`), over the receiver's scheme. */
interface SinkControl {
  get<T>(path: string): Promise<T>;
  post(path: string, body: unknown): Promise<void>;
}

function sinkControl(receiver: Receiver, port: number): SinkControl {
  return {
    async get<T>(path: string) {
      return (await (await fetch(receiver.url(port, path), receiver.fetchInit)).json()) as T;
    },
    async post(path, body) {
      const url = receiver.url(port, path);
      const res = await fetch(url, { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" }, ...receiver.fetchInit });
      if (!res.ok) throw new Error(`${url} answered ${res.status}: ${await res.text()}`);
      await res.arrayBuffer();
    },
  };
}
