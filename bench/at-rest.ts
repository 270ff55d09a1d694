/**
 * @module What hookrelay costs with nothing to do (issue 16: the production roles together at most
 * 2% of a core): starts a deployment, lets it settle, then reads every thread's CPU time of every
 * hookrelay process from /proc (schedstat, nanoseconds: a 10 ms tick is too coarse for 0.1%) over a
 * window, per role and per thread kind (the JavaScript thread `bun`, mimalloc's `mi-scavenger`, JIT).
 *
 *   bun bench/at-rest.ts [embedded|production] [seconds=30] [--settle=15] [--record]
 *
 * Prints one JSON line and writes it to bench/out/at-rest-<deployment>-<date>.json (bench/results
 * with --record, which also puts the latest of each deployment into bench/README.md's results).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Deployment, startEmbedded, startProduction } from "./lib/hookrelay.ts";
import { round, threadCpuNanos as threads } from "./lib/measure.ts";
import { type AtRest, machine, OUT_DIR, RESULTS_DIR, regenerateReadme, versions } from "./lib/results.ts";

const args = process.argv.slice(2);
const positional = args.filter((a) => !a.startsWith("--"));
const deployment = positional[0] ?? "production";
if (deployment !== "embedded" && deployment !== "production") throw new Error(`usage: bun bench/at-rest.ts [embedded|production] [seconds] [--settle=S] [--record]`);
const seconds = Number(positional[1] ?? 30);
const settleSeconds = Number(args.find((a) => a.startsWith("--settle="))?.slice(9) ?? 15);
/** The bound of issue 16 for the production roles together, % of one core. */
const BOUND_PERCENT = 2;

const hr: Deployment = deployment === "production" ? await startProduction(console.error) : await startEmbedded();
let result: AtRest;
try {
  console.error(`at-rest: ${hr.kind} up (${hr.processes.map((p) => `${p.role} ${p.pid}`).join(", ")}); settling ${settleSeconds} s, then measuring ${seconds} s`);
  await Bun.sleep(settleSeconds * 1000);
  const before = hr.processes.map((p) => threads(p.pid));
  await Bun.sleep(seconds * 1000);
  const broken = hr.broken();
  if (broken) throw new Error(broken);
  // A thread that started in the window counts from 0; one that ended in it is lost (rare at rest).
  const processes = hr.processes.map((p, i) => {
    const byName: Record<string, number> = {};
    for (const [tid, now] of threads(p.pid)) byName[now.name] = (byName[now.name] ?? 0) + now.ns - (before[i]!.get(tid)?.ns ?? 0);
    const percent = (ns: number) => round((ns / (seconds * 1e9)) * 100, 3);
    const total = Object.values(byName).reduce((a, b) => a + b, 0);
    const busiest = Object.entries(byName)
      .filter(([, ns]) => percent(ns) >= 0.001)
      .sort((a, b) => b[1] - a[1]);
    return { role: p.role, cpu_percent: percent(total), threads: Object.fromEntries(busiest.map(([name, ns]) => [name, percent(ns)])) };
  });
  const total = round(
    processes.reduce((sum, p) => sum + p.cpu_percent, 0),
    2,
  );
  const date = new Date().toISOString();
  result = {
    scenario: "at-rest",
    deployment,
    date,
    machine: machine(),
    versions: versions({}),
    settle_s: settleSeconds,
    seconds,
    processes,
    cpu_percent: total,
    ...(deployment === "production" ? { bound_percent: BOUND_PERCENT, pass: total <= BOUND_PERCENT } : {}),
  };
} finally {
  await hr.stop();
}
const dir = args.includes("--record") ? RESULTS_DIR : OUT_DIR;
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `at-rest-${deployment}-${result.date.replace(/[:.]/g, "").slice(0, 17)}Z.json`), `${JSON.stringify(result, null, 2)}\n`);
if (dir === RESULTS_DIR) regenerateReadme();
for (const p of result.processes)
  console.error(
    `at-rest: ${p.role} ${p.cpu_percent}% (${Object.entries(p.threads)
      .map(([n, v]) => `${n} ${v}`)
      .join(", ")})`,
  );
console.error(`at-rest: ${deployment} ${result.cpu_percent}% of a core${result.bound_percent === undefined ? "" : ` (bound ${result.bound_percent}%: ${result.pass ? "PASS" : "FAIL"})`}`);
console.log(JSON.stringify({ deployment, cpu_percent: result.cpu_percent, processes: result.processes.map((p) => [p.role, p.cpu_percent]) }));
