/**
 * @module What a refused event post costs (issue 16, graceful overload): ingest at capacity answers
 * 503 + Retry-After before reading the body; under wrk (64 kept-alive connections, 2 threads) the
 * server's CPU-µs per refusal, next to raw `Bun.serve` measured in the same run.
 *
 *   bun bench/shed-cost.ts [seconds=5] [--record]
 *
 * Prints one JSON line and writes it to bench/out/shed-cost-<date>.json (bench/results with
 * --record, which also puts the latest into bench/README.md's results); `ratio` is refusal ÷ raw,
 * bounded at 2 (bench/README.md).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Ceiling, servePostCeiling, wrkPosts } from "./lib/ceilings.ts";
import { spawnBenchScript } from "./lib/children.ts";
import { round } from "./lib/measure.ts";
import { machine, OUT_DIR, RESULTS_DIR, regenerateReadme, type ShedCost, versions } from "./lib/results.ts";
import { ensureWrk } from "./lib/tools.ts";

const args = process.argv.slice(2);
const seconds = Number(args.find((a) => !a.startsWith("--")) ?? 5);
const wrk = ensureWrk(console.error);
const raw = await servePostCeiling(wrk, seconds);
const server = await spawnBenchScript<{ port: number }>("shed-server.ts");
let shed: Ceiling;
try {
  shed = wrkPosts(wrk, seconds, { port: server.first.port, pid: server.proc.pid }, "shedding ingest", true);
} finally {
  await server.stop();
}
const ratio = round(shed.cpu_us_per_request / raw.cpu_us_per_request);
const date = new Date().toISOString();
const result: ShedCost = { scenario: "shed-cost", date, machine: machine(), versions: versions({}), raw_serve: raw, shed_503: shed, ratio, pass: ratio <= 2 };
const dir = args.includes("--record") ? RESULTS_DIR : OUT_DIR;
mkdirSync(dir, { recursive: true });
writeFileSync(join(dir, `shed-cost-${date.replace(/[:.]/g, "").slice(0, 17)}Z.json`), `${JSON.stringify(result, null, 2)}\n`);
if (dir === RESULTS_DIR) regenerateReadme();
console.log(JSON.stringify({ raw_serve: raw, shed_503: shed, ratio }));
