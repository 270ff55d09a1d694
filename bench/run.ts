/**
 * @module `bun run bench [scenario] [options]`: our own benchmark runner (bench/README.md). Installs
 * vegeta and wrk when absent, measures the ceilings (raw Bun.serve POST/s under wrk, raw fetch POST/s
 * to a sink over the receiver's scheme), runs the scenario with vegeta's constant-rate attack and
 * writes bench/out/<scenario>-<date>.json (ignored by git). `--record` writes to bench/results
 * instead and regenerates the tables in bench/README.md.
 *
 *   bun run bench ingest [--rates=1000,5000,10000] [--seconds=10] [--ceiling-seconds=5]
 *                        [--p99-ms=25] [--receiver=http|https] [--record] [--out=DIR] [--no-readme]
 *   bun run bench embedded|production|fan-out|isolation|origins|soak [--rates=…] [--seconds=…]
 *                        [--deployment=embedded|production] [--delivery-p99-ms=500] [--drain-seconds=60]
 *                        [--baseline-p99-ms=N] [--warmup-seconds=120] [--sample-seconds=10]
 *                        [--sig-every=50] [--receiver=http|https] [--max-connections=N] [--customers=N]
 *                        [--no-same-rate] [--filter] [--label=TEXT] [--strict]
 *
 * Loopback only; every step stops by itself. Each end-to-end scenario prints PASS or FAIL; --strict
 * makes a FAIL exit 1 (the results are written either way).
 */
import { resolve } from "node:path";
import { measureCeilings } from "./lib/ceilings.ts";
import { prepareReceiver, type ReceiverScheme } from "./lib/receiver.ts";
import { machine, OUT_DIR, RESULTS_DIR, type Result, regenerateReadme, versions, writeResult } from "./lib/results.ts";
import { ensureVegeta, ensureWrk, toolVersions } from "./lib/tools.ts";
import { endToEndScenario } from "./scenarios/end-to-end.ts";
import { ingestScenario } from "./scenarios/ingest.ts";
import type { E2EScenario } from "./scenarios/layouts.ts";

const SCENARIOS = ["ingest", "embedded", "production", "fan-out", "isolation", "origins", "soak"] as const;
type Scenario = (typeof SCENARIOS)[number];

/** Offered rates and seconds per step when --rates / --seconds are not given (issue 5). */
const DEFAULTS: Record<Scenario, { rates: number[]; seconds: number }> = {
  ingest: { rates: [1000, 5000, 10_000], seconds: 10 },
  embedded: { rates: [10_000], seconds: 60 },
  production: { rates: [10_000], seconds: 60 },
  "fan-out": { rates: [1000], seconds: 60 },
  isolation: { rates: [5000], seconds: 60 },
  origins: { rates: [5000], seconds: 60 },
  soak: { rates: [5000], seconds: 600 },
};

export interface RunOptions {
  scenario: Scenario;
  rates: number[];
  seconds: number;
  ceilingSeconds: number;
  p99Ms: number;
  /** Where the results JSON goes: bench/out, or bench/results with --record (--out wins). */
  out: string;
  /** Regenerate bench/README.md's tables from `out` (--record, unless --no-readme). */
  readme: boolean;
  /** The sink's scheme, and the fetch ceiling's. */
  receiver: ReceiverScheme;
  /** End-to-end scenarios: embedded `all` or the production roles (production: always the latter). */
  deployment: "embedded" | "production";
  deliveryP99Ms: number;
  drainSeconds: number;
  baselineP99Ms: number | null;
  warmupSeconds: number;
  sampleSeconds: number;
  sigEvery: number;
  strict: boolean;
  /** The generator's connections at most (vegeta -max-connections); null: as many as the rate needs. */
  maxConnections: number | null;
  /** Events spread over this many customers (embedded shards own customers: docs/every-core.md). */
  customers: number;
  /** Raw serve and fetch at each step's rate too (--no-same-rate: skip them, e.g. on a short lease). */
  sameRate: boolean;
  /** Names this run apart from the scenario's usual one in the tables (e.g. "1 core"). */
  label: string;
  /** A 10-condition payload filter on every webhook (scenarios/end-to-end.ts BENCH_FILTER); labelled so unless --label says otherwise. */
  filter: boolean;
}

/** Parses `[scenario] --name=value ...`; names the bad argument when one is wrong. */
export function parseArgs(argv: string[]): RunOptions {
  const options: RunOptions = {
    scenario: "ingest",
    rates: [],
    seconds: 0,
    ceilingSeconds: 5,
    p99Ms: 25,
    out: OUT_DIR,
    readme: false,
    receiver: "http",
    deployment: "embedded",
    deliveryP99Ms: 500,
    drainSeconds: 60,
    baselineP99Ms: null,
    warmupSeconds: 120,
    sampleSeconds: 10,
    sigEvery: 50,
    strict: false,
    maxConnections: null,
    customers: 1,
    sameRate: true,
    label: "",
    filter: false,
  };
  const positive = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}=${raw}: expected a positive integer`);
    return n;
  };
  const positiveNumber = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name}=${raw}: expected a positive number`);
    return n;
  };
  let deploymentGiven = false;
  let outGiven = false;
  let record = false;
  let noReadme = false;
  for (const arg of argv) {
    const [name, value = ""] = arg.replace(/^--/, "").split("=", 2) as [string, string?];
    if (!arg.startsWith("--")) {
      if (!(SCENARIOS as readonly string[]).includes(arg)) throw new Error(`scenario ${arg}: expected one of ${SCENARIOS.join(", ")}`);
      options.scenario = arg as Scenario;
    } else if (name === "rates") options.rates = value.split(",").map((r) => positive("rates", r));
    else if (name === "seconds") options.seconds = positive(name, value);
    else if (name === "ceiling-seconds") options.ceilingSeconds = positive(name, value);
    else if (name === "p99-ms") options.p99Ms = positive(name, value);
    else if (name === "delivery-p99-ms") options.deliveryP99Ms = positive(name, value);
    else if (name === "drain-seconds") options.drainSeconds = positive(name, value);
    else if (name === "baseline-p99-ms") options.baselineP99Ms = positiveNumber(name, value);
    else if (name === "warmup-seconds") options.warmupSeconds = Number(value) === 0 ? 0 : positive(name, value);
    else if (name === "sample-seconds") options.sampleSeconds = positiveNumber(name, value);
    else if (name === "sig-every") options.sigEvery = positive(name, value);
    else if (name === "deployment") {
      if (value !== "embedded" && value !== "production") throw new Error(`--deployment=${value}: expected embedded or production`);
      options.deployment = value;
      deploymentGiven = true;
    } else if (name === "receiver") {
      if (value !== "http" && value !== "https") throw new Error(`--receiver=${value}: expected http or https`);
      options.receiver = value;
    } else if (name === "out") {
      options.out = resolve(value);
      outGiven = true;
    } else if (name === "record") record = true;
    else if (name === "no-readme") noReadme = true;
    else if (name === "strict") options.strict = true;
    else if (name === "max-connections") options.maxConnections = positive(name, value);
    else if (name === "customers") options.customers = positive(name, value);
    else if (name === "no-same-rate") options.sameRate = false;
    else if (name === "label") options.label = value;
    else if (name === "filter") options.filter = true;
    else throw new Error(`unknown option ${arg}`);
  }
  if (record) {
    if (!outGiven) options.out = RESULTS_DIR;
    options.readme = !noReadme;
  }
  if (options.scenario === "production") options.deployment = "production";
  else if (options.scenario === "embedded" && deploymentGiven && options.deployment !== "embedded") throw new Error("--deployment=production with scenario embedded: run scenario production instead");
  if (options.filter && !options.label) options.label = "10-condition filter";
  if (options.filter && options.scenario === "ingest") throw new Error("--filter: only the end-to-end scenarios create webhooks");
  if (options.rates.length === 0) options.rates = DEFAULTS[options.scenario].rates;
  if (options.seconds === 0) options.seconds = DEFAULTS[options.scenario].seconds;
  return options;
}

/** Runs one scenario end to end and returns the written results file and its content. */
export async function runBench(o: RunOptions, log: (line: string) => void = console.log): Promise<{ path: string; result: Result }> {
  const wrk = ensureWrk(log);
  const vegeta = ensureVegeta(log);
  const date = new Date().toISOString();
  const receiver = prepareReceiver(o.receiver);
  try {
    log(`bench: ceilings (${o.ceilingSeconds}s each)`);
    const ceilings = await measureCeilings(wrk, o.ceilingSeconds, receiver);
    const { serve_post: serve, fetch_post: fetched } = ceilings;
    log(`bench: raw Bun.serve ${serve.per_s} POST/s (${serve.cpu_us_per_request} CPU-µs each), raw ${o.receiver} fetch ${fetched.per_s} POST/s (${fetched.cpu_us_per_request} CPU-µs each)`);
    const measured =
      o.scenario === "ingest"
        ? await ingestScenario({ rates: o.rates, seconds: o.seconds, p99BoundMs: o.p99Ms, vegeta, ceilings, log })
        : await endToEndScenario({
            scenario: o.scenario as E2EScenario,
            maxConnections: o.maxConnections,
            customers: o.customers,
            sameRate: o.sameRate,
            deployment: o.deployment,
            rates: o.rates,
            seconds: o.seconds,
            p99BoundMs: o.p99Ms,
            deliveryP99BoundMs: o.deliveryP99Ms,
            baselineP99Ms: o.baselineP99Ms,
            resultsDirs: [...new Set([o.out, OUT_DIR, RESULTS_DIR])],
            drainSeconds: o.drainSeconds,
            warmupSeconds: o.warmupSeconds,
            sampleSeconds: o.sampleSeconds,
            sigEvery: o.sigEvery,
            filter: o.filter,
            vegeta,
            ceilings,
            receiver,
            log,
          });
    const result: Result = {
      scenario: o.scenario,
      date,
      receiver: o.receiver,
      ...(o.label ? { label: o.label } : {}),
      ...(o.maxConnections ? { max_connections: o.maxConnections } : {}),
      ...(o.customers > 1 ? { customers: o.customers } : {}),
      machine: machine(),
      versions: versions(toolVersions(vegeta, wrk)),
      ceilings,
      ...measured,
    };
    const path = writeResult(result, o.out);
    if (o.readme) regenerateReadme(o.out);
    log(`bench: results in ${path}${o.readme ? " and bench/README.md" : ""}`);
    if (result.verdict) {
      const failed = result.verdict.checks.filter((c) => !c.ok);
      log(
        result.verdict.pass
          ? `bench: ${o.scenario} PASS (${result.verdict.checks.map((c) => `${c.check}: ${c.value}`).join("; ")})`
          : `bench: ${o.scenario} FAIL (${failed.map((c) => `${c.check}: ${c.value}`).join("; ")})`,
      );
    }
    return { path, result };
  } finally {
    receiver.cleanup();
  }
}

if (import.meta.main) {
  process.chdir(resolve(import.meta.dir, ".."));
  const options = parseArgs(process.argv.slice(2));
  const { result } = await runBench(options);
  if (options.strict && result.verdict && !result.verdict.pass) process.exit(1);
}
