/**
 * @module Finding events at scale (issue 19): one customer's 1,000,000 stored events, then pages of
 * `GET /api/v1/events` timed over HTTP, one request at a time: the newest page; pages of a time range
 * in the middle of the history, followed by their cursors; a range among the oldest events; one
 * type's pages; and the events with a failed delivery (1 event in 1,000). The bound: under 50 ms a
 * page, on SQLite and on PostgreSQL.
 *
 *   bun bench/list-events.ts [embedded|production] [--events=1000000] [--pages=30] [--record]
 *
 * The events are written straight into the store (the log and its indexes as ingest leaves them, in
 * minutes less than ingesting them), before the embedded process starts (its dispatcher then starts
 * past them), or beside the running production roles (as already published: Kafka never sees them).
 * Prints one JSON line and writes it to bench/out/list-events-<deployment>-<date>.json (bench/results
 * with --record, which also puts the latest of each deployment into bench/README.md's results).
 */
import { Database } from "bun:sqlite";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createPool } from "../src/adapters/postgres/client.ts";
import { tempDir } from "../tests/helpers/hookrelay.ts";
import { deploymentArgs } from "./lib/args.ts";
import { type Deployment, startEmbedded, startProduction } from "./lib/hookrelay.ts";
import { round } from "./lib/measure.ts";
import { type ListEvents, machine, OUT_DIR, RESULTS_DIR, regenerateReadme, versions } from "./lib/results.ts";

const { deployment, option, record } = deploymentArgs("bun bench/list-events.ts [embedded|production] [--events=N] [--pages=N] [--record]");
const EVENTS = option("events", 1_000_000);
const PAGES = option("pages", 30);
/** The bound of issue 19, ms per page. */
const BOUND_MS = 50;
const CUSTOMER = "default";
const TYPES = 20;
/** Events are 10 ms apart from T0, the newest a minute ago: the history spans EVENTS / 100 seconds (within any retention). */
const T0 = Date.now() - EVENTS * 10 - 60_000;
const at = (i: number) => T0 + i * 10;
const iso = (i: number) => new Date(at(i)).toISOString();
/** One event in FAILED_EVERY has a failed delivery (and one in 10 a succeeded one). */
const FAILED_EVERY = 1000;

const log = (line: string) => console.error(`list-events: ${line}`);

/** The embedded database, filled before hookrelay opens it (migrated by `hookrelay migrate up`). */
function fillSqlite(dataDir: string): void {
  // Only the data dir: a DATABASE_URL in the environment (services:up's) would migrate PostgreSQL instead.
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", HOOKRELAY_DATA_DIR: dataDir };
  const migrate = Bun.spawnSync(["bun", "src/cli/main.ts", "migrate", "up"], { env, stdout: "pipe", stderr: "pipe" });
  if (migrate.exitCode !== 0) throw new Error(`migrate up: ${migrate.stderr}`);
  const db = new Database(join(dataDir, "hookrelay.db"));
  db.run("PRAGMA journal_mode = WAL");
  db.transaction(() => {
    db.run(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at)
       SELECT ?2, printf('evt_%07d', i), 'bench.type.' || (i % ${TYPES}), 'bench', ?3,
              '{"id":"' || printf('evt_%07d', i) || '","type":"bench.type.' || (i % ${TYPES}) || '","source":"bench","data":{"n":' || i || '},"timestamp":"' || ?3 || '"}',
              ?4 + i * 10
       FROM n`,
      [EVENTS, CUSTOMER, iso(0), T0],
    );
    db.run(
      `INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, created_at, updated_at)
       SELECT 'del_' || printf('%010d', seq), customer_id, id, 'wh_bench', CASE WHEN seq % ${FAILED_EVERY} = 0 THEN 'failed' ELSE 'succeeded' END, 1, accepted_at, accepted_at
       FROM events WHERE customer_id = ?1 AND (seq % 10 = 0)`,
      [CUSTOMER],
    );
    // The dispatcher starts past them, as after having dispatched them.
    db.run("INSERT INTO consumer_offsets (grp, position) VALUES ('hookrelay-dispatchers', (SELECT max(seq) FROM events)) ON CONFLICT (grp) DO UPDATE SET position = excluded.position");
  })();
  db.run("ANALYZE");
  db.close();
}

async function fillPostgres(url: string): Promise<void> {
  const sql = createPool({ url, maxConnections: 1 });
  try {
    await sql`INSERT INTO events (customer_id, id, type, source, timestamp, payload, accepted_at, published_at)
      SELECT ${CUSTOMER}, 'evt_' || lpad(i::text, 7, '0'), 'bench.type.' || (i % ${TYPES}), 'bench', ${iso(0)},
             '{"id":"evt_' || lpad(i::text, 7, '0') || '","type":"bench.type.' || (i % ${TYPES}) || '","source":"bench","data":{"n":' || i || '}}',
             ${T0}::bigint + i * 10, ${T0}::bigint + i * 10
      FROM generate_series(1, ${EVENTS}::int) i`;
    await sql`INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, created_at, updated_at)
      SELECT 'del_' || lpad(i::text, 10, '0'), ${CUSTOMER}, 'evt_' || lpad(i::text, 7, '0'), 'wh_bench',
             CASE WHEN i % ${FAILED_EVERY} = 0 THEN 'failed' ELSE 'succeeded' END, 1, ${T0}::bigint + i * 10, ${T0}::bigint + i * 10
      FROM generate_series(10, ${EVENTS}::int, 10) i`;
    await sql`ANALYZE events`;
    await sql`ANALYZE deliveries`;
  } finally {
    await sql.end();
  }
}

interface Timing {
  pages: number;
  items: number;
  p50_ms: number;
  p99_ms: number;
  max_ms: number;
}

/** Times `pages` requests of a list, each following the cursor of the one before. */
async function timePages(hr: Deployment, query: string, pages: number): Promise<Timing> {
  const times: number[] = [];
  let items = 0;
  let cursor: string | null = null;
  for (let page = 0; page < pages; page++) {
    const url = `${hr.gateway}/api/v1/events?${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
    const started = performance.now();
    const res = await fetch(url, { headers: { authorization: `Bearer ${hr.token}` } });
    const body = (await res.json()) as { data: unknown[]; next_cursor: string | null };
    times.push(performance.now() - started);
    if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
    items += body.data.length;
    cursor = body.next_cursor;
    if (!cursor) break;
  }
  times.sort((a, b) => a - b);
  const q = (p: number) => round(times[Math.min(times.length - 1, Math.ceil(p * times.length) - 1)]!, 2);
  return { pages: times.length, items, p50_ms: q(0.5), p99_ms: q(0.99), max_ms: round(times[times.length - 1]!, 2) };
}

let hr: Deployment;
const started = performance.now();
if (deployment === "embedded") {
  const dataDir = tempDir("hookrelay-list-events-");
  fillSqlite(dataDir);
  log(`${EVENTS} events stored in SQLite in ${round((performance.now() - started) / 1000, 1)} s`);
  hr = await startEmbedded({ HOOKRELAY_DATA_DIR: dataDir });
} else {
  hr = await startProduction(log);
  if (hr.database.kind !== "postgres") throw new Error("production without PostgreSQL");
  await fillPostgres(hr.database.url);
  log(`${EVENTS} events stored in PostgreSQL in ${round((performance.now() - started) / 1000, 1)} s`);
}
try {
  const quarter = Math.floor(EVENTS / 4);
  const scenarios: Record<string, [string, number]> = {
    "newest page (limit 100), again and again": ["limit=100", 1],
    "middle half by time, pages of 100 followed by cursor": [`limit=100&since=${iso(quarter)}&until=${iso(3 * quarter)}`, PAGES],
    "oldest tenth by time, pages of 100": [`limit=100&since=${iso(0)}&until=${iso(Math.floor(EVENTS / 10))}`, PAGES],
    "one type of 20, middle half by time, pages of 100": [`limit=100&type=bench.type.7&since=${iso(quarter)}&until=${iso(3 * quarter)}`, PAGES],
    "failed deliveries (1 event in 1,000), pages of 100": ["limit=100&delivery_status=failed", PAGES],
  };
  // Warm-up: the first requests (connections, the JIT) are not measured.
  await timePages(hr, "limit=100", 20);
  const timings: Record<string, Timing> = {};
  for (const [name, [query, pages]] of Object.entries(scenarios)) {
    timings[name] = pages === 1 ? await repeat(hr, query, PAGES) : await timePages(hr, query, pages);
    log(`${name}: ${JSON.stringify(timings[name])}`);
  }
  const worstP99 = Math.max(...Object.values(timings).map((t) => t.p99_ms));
  const result: ListEvents = {
    scenario: "list-events",
    deployment,
    date: new Date().toISOString(),
    machine: machine(),
    versions: versions({}),
    events: EVENTS,
    timings,
    verdict: { pass: worstP99 < BOUND_MS, check: `every page p99 < ${BOUND_MS} ms`, worst_p99_ms: worstP99 },
  };
  const dir = record ? RESULTS_DIR : OUT_DIR;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `list-events-${deployment}-${result.date.replace(/[:.]/g, "").replace(/\d{3}Z$/, "Z")}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  if (record) regenerateReadme(dir);
  console.log(JSON.stringify(result));
  log(`${result.verdict.pass ? "PASS" : "FAIL"} (worst p99 ${worstP99} ms); ${path}`);
} finally {
  await hr.stop();
}

/** The same first page `times` times. */
async function repeat(hr: Deployment, query: string, times: number): Promise<Timing> {
  const all: Timing[] = [];
  for (let i = 0; i < times; i++) all.push(await timePages(hr, query, 1));
  const ms = all.map((t) => t.p50_ms).sort((a, b) => a - b);
  return { pages: times, items: all.reduce((n, t) => n + t.items, 0), p50_ms: ms[Math.floor(times / 2)]!, p99_ms: ms[Math.min(times - 1, Math.ceil(0.99 * times) - 1)]!, max_ms: ms[times - 1]! };
}
