/**
 * @module What a refused event post costs (issue 16, graceful overload): ingest at capacity answers
 * 503 + Retry-After before reading the body; under wrk (64 kept-alive connections, 2 threads) the
 * server's CPU-µs per refusal, next to raw `Bun.serve` measured in the same run.
 *
 *   bun bench/shed-cost.ts [seconds=5]
 *
 * Prints one JSON line; `ratio` is refusal ÷ raw, bounded at 2 (bench/README.md).
 */
import { type Ceiling, servePostCeiling, wrkPosts } from "./lib/ceilings.ts";
import { spawnBenchScript } from "./lib/children.ts";
import { round } from "./lib/measure.ts";
import { ensureWrk } from "./lib/tools.ts";

const seconds = Number(process.argv[2] ?? 5);
const wrk = ensureWrk(console.error);
const raw = await servePostCeiling(wrk, seconds);
const server = await spawnBenchScript<{ port: number }>("shed-server.ts");
let shed: Ceiling;
try {
  shed = wrkPosts(wrk, seconds, { port: server.first.port, pid: server.proc.pid }, "shedding ingest", true);
} finally {
  await server.stop();
}
console.log(JSON.stringify({ raw_serve: raw, shed_503: shed, ratio: round(shed.cpu_us_per_request / raw.cpu_us_per_request) }));
