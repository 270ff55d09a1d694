/**
 * @module `bun run bench [scenario] [options]`: our own benchmark runner (DESIGN.md §5, §6). Installs
 * vegeta and wrk when absent, measures the ceilings (raw Bun.serve POST/s under wrk, raw fetch POST/s
 * to a sink), runs the scenario with vegeta's constant-rate attack, writes
 * bench/results/<scenario>-<date>.json and regenerates the table in bench/README.md.
 *
 *   bun run bench ingest [--rates=1000,5000,10000] [--seconds=10] [--ceiling-seconds=5]
 *                        [--p99-ms=25] [--out=bench/results] [--no-readme]
 *
 * Scenarios so far: ingest (a). Loopback only; every step stops by itself.
 */
import { resolve } from "node:path";
import { measureCeilings } from "./lib/ceilings.ts";
import { RESULTS_DIR, type Result, machine, regenerateReadme, versions, writeResult } from "./lib/results.ts";
import { ensureVegeta, ensureWrk, toolVersions } from "./lib/tools.ts";
import { ingestScenario } from "./scenarios/ingest.ts";

const SCENARIOS = ["ingest"] as const;
type Scenario = (typeof SCENARIOS)[number];

export interface RunOptions {
  scenario: Scenario;
  rates: number[];
  seconds: number;
  ceilingSeconds: number;
  p99Ms: number;
  out: string;
  readme: boolean;
}

/** Parses `[scenario] --name=value ...`; names the bad argument when one is wrong. */
export function parseArgs(argv: string[]): RunOptions {
  const options: RunOptions = { scenario: "ingest", rates: [1000, 5000, 10_000], seconds: 10, ceilingSeconds: 5, p99Ms: 25, out: RESULTS_DIR, readme: true };
  const positive = (name: string, raw: string) => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name}=${raw}: expected a positive integer`);
    return n;
  };
  for (const arg of argv) {
    const [name, value = ""] = arg.replace(/^--/, "").split("=", 2) as [string, string?];
    if (!arg.startsWith("--")) {
      if (!(SCENARIOS as readonly string[]).includes(arg)) throw new Error(`scenario ${arg}: expected one of ${SCENARIOS.join(", ")} (the others of issue 5 are not built yet)`);
      options.scenario = arg as Scenario;
    } else if (name === "rates") options.rates = value.split(",").map((r) => positive("rates", r));
    else if (name === "seconds") options.seconds = positive(name, value);
    else if (name === "ceiling-seconds") options.ceilingSeconds = positive(name, value);
    else if (name === "p99-ms") options.p99Ms = positive(name, value);
    else if (name === "out") options.out = resolve(value);
    else if (name === "no-readme") options.readme = false;
    else throw new Error(`unknown option ${arg}`);
  }
  return options;
}

/** Runs one scenario end to end and returns the written results file and its content. */
export async function runBench(o: RunOptions, log: (line: string) => void = console.log): Promise<{ path: string; result: Result }> {
  const wrk = ensureWrk(log);
  const vegeta = ensureVegeta(log);
  const date = new Date().toISOString();
  log(`bench: ceilings (${o.ceilingSeconds}s each)`);
  const ceilings = await measureCeilings(wrk, o.ceilingSeconds);
  log(`bench: raw Bun.serve ${ceilings.serve_post.per_s} POST/s, raw fetch ${ceilings.fetch_post.per_s} POST/s`);
  const measured = await ingestScenario({ rates: o.rates, seconds: o.seconds, p99BoundMs: o.p99Ms, vegeta, ceilings, log });
  const result: Result = { scenario: o.scenario, date, machine: machine(), versions: versions(toolVersions(vegeta, wrk)), ceilings, ...measured };
  const path = writeResult(result, o.out);
  if (o.readme) regenerateReadme(o.out);
  log(`bench: results in ${path}`);
  return { path, result };
}

if (import.meta.main) {
  process.chdir(resolve(import.meta.dir, ".."));
  await runBench(parseArgs(process.argv.slice(2)));
}
