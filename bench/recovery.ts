/**
 * @module Bulk replay at scale (issue 20): 10,000 dead deliveries of one webhook recovered at a pace,
 * with a kill -9 of the process running the job partway; the pace measured before the kill, every
 * event's receipts counted since the recovery began, and the job's progress at the end.
 *
 *   bun bench/recovery.ts [embedded|production] [--deliveries=10000] [--per-second=500] [--record]
 *
 * Production takes PostgreSQL, Redis and Kafka from `bun run services:up` (a fresh schema, topic and
 * key prefix). Prints one JSON line and writes it to bench/out/recovery-<deployment>-<date>.json
 * (bench/results with --record).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { adminToken, client, waitFor } from "../tests/helpers/hookrelay.ts";
import { childInstance } from "../tests/helpers/process.ts";
import { eventIdOf, startReceiver } from "../tests/helpers/receiver.ts";
import { deploymentArgs } from "./lib/args.ts";
import { productionBackends, productionDefaults } from "./lib/hookrelay.ts";
import { round } from "./lib/measure.ts";
import { machine, OUT_DIR, RESULTS_DIR, versions } from "./lib/results.ts";

const { deployment, option, record } = deploymentArgs("bun bench/recovery.ts [embedded|production] [--deliveries=N] [--per-second=N] [--record]");
const N = option("deliveries", 10_000);
const PER_SECOND = option("per-second", 500);
const log = (line: string) => console.error(`recovery: ${line}`);

const rx = startReceiver();
let broken = true;
rx.onPath("/recover", () => new Response(null, { status: broken ? 400 : 204 }));
const env: Record<string, string> = {
  ...productionDefaults(),
  HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
  HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
  HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn",
};
let dropSchema = async () => {};
if (deployment === "production") {
  const backends = await productionBackends(log);
  Object.assign(env, backends.env);
  dropSchema = backends.drop;
}
const hr = childInstance(env);
try {
  await hr.start();
  let api = client(hr.gateway, await adminToken(hr.gateway));
  const since = new Date(Date.now() - 1000).toISOString();
  const webhook = (await api("POST", "/api/v1/webhooks", { url: rx.url("/recover"), event_types: ["bench.recover"], permanent_failure_codes: [400] })).body.id as string;
  for (let i = 0; i < N; i += 1000) {
    const events = Array.from({ length: Math.min(1000, N - i) }, (_, j) => ({ id: `rec-${String(i + j).padStart(6, "0")}`, type: "bench.recover", source: "bench", data: { n: i + j } }));
    const res = await api("POST", "/api/v1/events/batch", { events });
    if (res.status !== 202) throw new Error(`batch: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await waitFor(`${N} dead deliveries`, () => rx.received.filter((r) => r.path === "/recover").length >= N, 300_000, 200);
  // Every first attempt answered 400: each delivery is dead once its outcome is written.
  await Bun.sleep(2000);
  broken = false;
  const startedAt = Date.now();
  const job = (await api("POST", `/api/v1/webhooks/${webhook}/recover`, { since, per_second: PER_SECOND })).body;
  log(`job ${job.id}: ${job.matched} matched, at ${PER_SECOND}/s`);
  const sentByJob = () => rx.received.filter((r) => r.path === "/recover" && r.at >= startedAt);
  await waitFor("a third sent", () => sentByJob().length >= N / 3, 300_000, 50);
  const before = sentByJob().map((r) => r.at);
  const rateBeforeKill = ((before.length - 1) * 1000) / (before[before.length - 1]! - before[0]!);
  hr.proc.kill(9);
  await hr.proc.exited;
  const killedAt = Date.now();
  await hr.start();
  api = client(hr.gateway, await adminToken(hr.gateway));
  await waitFor("the job finished", async () => (await api("GET", `/api/v1/jobs/${job.id}`)).body.state === "finished", 600_000, 500);
  const done = (await api("GET", `/api/v1/jobs/${job.id}`)).body;
  const counts = new Map<string, number>();
  for (const r of sentByJob()) counts.set(eventIdOf(r.body), (counts.get(eventIdOf(r.body)) ?? 0) + 1);
  const after = sentByJob()
    .map((r) => r.at)
    .filter((at) => at > killedAt);
  const rateAfterRestart = ((after.length - 1) * 1000) / (after[after.length - 1]! - after[0]!);
  const result = {
    scenario: "recovery",
    deployment,
    date: new Date().toISOString(),
    machine: machine(),
    versions: versions({}),
    deliveries: N,
    per_second: PER_SECOND,
    job: { matched: done.matched, sent: done.sent, succeeded: done.succeeded, failed: done.failed, state: done.state },
    rate_before_kill: round(rateBeforeKill, 1),
    rate_after_restart: round(rateAfterRestart, 1),
    received_once: [...counts.values()].filter((n) => n === 1).length,
    received_twice_or_more: [...counts.values()].filter((n) => n > 1).length,
    missed: N - counts.size,
    verdict: {
      pass: done.sent === N && counts.size === N && Math.abs(rateBeforeKill - PER_SECOND) / PER_SECOND < 0.1,
      checks: "every delivery sent by the job and received; the pace before the kill within 10%",
    },
  };
  const dir = record ? RESULTS_DIR : OUT_DIR;
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `recovery-${deployment}-${result.date.replace(/[:.]/g, "").replace(/\d{3}Z$/, "Z")}.json`);
  writeFileSync(path, `${JSON.stringify(result, null, 2)}\n`);
  console.log(JSON.stringify(result));
  log(`${result.verdict.pass ? "PASS" : "FAIL"}; ${path}`);
} finally {
  hr.proc?.kill(9);
  rx.stop();
  await dropSchema();
}
