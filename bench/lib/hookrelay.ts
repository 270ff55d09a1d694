/**
 * @module hookrelay under benchmark, with the production defaults of config.yaml (not the tests'
 * 50 ms pollers): a child `hookrelay all` on free ports (embedded), or each role of the production
 * deployment in its own process on PostgreSQL, Redis and Kafka from `bun run services:up`.
 * HOOKRELAY_* variables of the runner pass through; BENCH_CMD replaces the `all` command and
 * BENCH_BIN the `bun src/cli/main.ts` of the roles (e.g. `dist/hookrelay`).
 */

import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { Subprocess } from "bun";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { describeConfig, envName } from "../../src/platform/config.ts";
import { adminToken, waitFor } from "../../tests/helpers/hookrelay.ts";
import { type ChildInstance, childInstance, portsAndEnv, shardOfPid } from "../../tests/helpers/process.ts";
import { processTree } from "./measure.ts";

const ROOT = resolve(import.meta.dir, "../..");

/** The config defaults the test environment changes for speed, put back: the pollers run as in production. */
export function productionDefaults(): Record<string, string> {
  const defaults = new Map(describeConfig().map((k) => [k.env, String(k.default)]));
  const env: Record<string, string> = {};
  for (const name of ["HOOKRELAY_DISPATCHER_POLL_INTERVAL", "HOOKRELAY_RETRY_MANAGER_POLL_INTERVAL"]) {
    const value = defaults.get(name);
    if (value === undefined) throw new Error(`config has no ${name} any more; update bench/lib/hookrelay.ts`);
    env[name] = value;
  }
  // The load generator is one IP standing for many clients: the per-IP connection cap (a defence
  // against one client's slow bodies) and the rate limits would refuse it (429) as soon as latency
  // or the rate rises (a burst went past 20,000 events/s per customer). HOOKRELAY_* variables of
  // the runner still win.
  return { ...env, ...BENCH_LIMITS_OFF };
}

const BENCH_LIMITS_OFF: Record<string, string> = Object.fromEntries(
  ["max_connections_per_ip", "rate_limit_ingest_per_ip", "rate_limit_ingest_per_customer", "rate_limit_api_per_ip", "rate_limit_api_per_customer"].map((key) => [envName(`security.${key}`), "0"]),
);

function passThrough(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("HOOKRELAY_"))) as Record<string, string>;
}

/**
 * Starts `bun src/cli/main.ts all` (or BENCH_CMD, e.g. a profiling command or `dist/hookrelay all`)
 * on a fresh data directory with the production pollers; `overrides`, then this process's
 * HOOKRELAY_* variables, win over those.
 */
export async function startHookrelay(overrides: Record<string, string> = {}): Promise<{ hr: ChildInstance; token: string; command: string[] }> {
  const command = process.env.BENCH_CMD?.split(" ") ?? ["bun", "src/cli/main.ts", "all"];
  const hr = childInstance({ ...productionDefaults(), HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn", ...overrides, ...passThrough() }, command);
  try {
    await hr.start();
    return { hr, token: await adminToken(hr.gateway), command };
  } catch (err) {
    // A child that started but never became usable is not left running.
    await stopHookrelay(hr);
    throw err;
  }
}

/** SIGTERM, then wait for the exit. */
export async function stopHookrelay(hr: ChildInstance): Promise<void> {
  if (!hr.proc || hr.proc.exitCode !== null) return;
  hr.proc.kill("SIGTERM");
  await hr.proc.exited;
}

/** A running deployment under benchmark: where to send, its processes (for /proc), and how to stop it. */
export interface Deployment {
  kind: "embedded" | "production";
  command: string[];
  gateway: string;
  ingest: string;
  token: string;
  processes: { role: string; pid: number }[];
  /** Production: the backends' top processes from `bun run services:up` (PostgreSQL's postmaster, Redis, the Kafka broker). */
  backends?: { name: string; pid: number }[];
  /** Where its data lives, for a benchmark that fills it directly (bench/list-events.ts). */
  database: { kind: "sqlite"; dataDir: string } | { kind: "postgres"; url: string };
  /** Why the deployment is broken (a process exited), or null. */
  broken(): string | null;
  stop(): Promise<void>;
}

/** `overrides`: hookrelay settings of the run (e.g. the https receiver's trusted CA). */
export async function startEmbedded(overrides: Record<string, string> = {}): Promise<Deployment> {
  const { hr, token, command } = await startHookrelay(overrides);
  return {
    kind: "embedded",
    command,
    gateway: hr.gateway,
    ingest: hr.ingest,
    token,
    // Over shards (database.sqlite_shards): the supervisor and each shard's process.
    processes: processTree(hr.proc.pid).map((pid, i) => ({ role: i === 0 ? "all" : `shard-${shardOfPid(pid) ?? "?"}`, pid })),
    database: { kind: "sqlite", dataDir: hr.env.HOOKRELAY_DATA_DIR! },
    broken: () => (hr.proc.exitCode === null ? null : `hookrelay exited ${hr.proc.exitCode}:\n${hr.output().slice(-4000)}`),
    stop: () => stopHookrelay(hr),
  };
}

/** PostgreSQL, Redis and Kafka URLs from `bun run services:up` (idempotent: starts only what is down). */
export function servicesUp(log: (line: string) => void): Record<string, string> {
  log("bench: bun run services:up");
  const run = Bun.spawnSync(["bun", "scripts/services/index.ts", "up"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`bun run services:up failed (exit ${run.exitCode}):\n${run.stderr.toString()}`);
  const env = Object.fromEntries(
    run.stdout
      .toString()
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  for (const key of ["DATABASE_URL", "REDIS_URL", "KAFKA_BROKERS"]) if (!env[key]) throw new Error(`bun run services:up printed no ${key}`);
  return env;
}

/** The HTTP roles, gateway first; the registry (gRPC) starts with the others and is waited for by its port. */
const ROLES = ["gateway", "ingest", "dispatcher", "retry", "observability"] as const;

/** True once something accepts TCP connections on the port. */
async function listening(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/**
 * The production deployment: a fresh PostgreSQL schema, Redis key prefix and Kafka topic and
 * consumer group for this run, `migrate up`, then each of the six roles in its own process (gateway first).
 * The schema is dropped on stop; the topic and Redis keys stay (they are unique to the run).
 */
/**
 * The production backends of one run, from `bun run services:up`: a fresh PostgreSQL schema (dropped
 * by `drop`), and a Redis key prefix and Kafka topic and consumer group of its own, as the roles'
 * environment.
 */
export async function productionBackends(log: (line: string) => void): Promise<{ env: Record<string, string>; schema: string; topic: string; drop(): Promise<void> }> {
  const services = servicesUp(log);
  const run = `${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const schema = `hr_bench_${run.replace("-", "_")}`;
  const admin = createPool({ url: services.DATABASE_URL!, maxConnections: 1 });
  await admin`CREATE SCHEMA ${admin(schema)}`;
  const url = new URL(services.DATABASE_URL!);
  url.searchParams.set("options", `-c search_path=${schema}`);
  const env = {
    DATABASE_URL: url.toString(),
    REDIS_URL: services.REDIS_URL!,
    KAFKA_BROKERS: services.KAFKA_BROKERS!,
    HOOKRELAY_REDIS_KEY_PREFIX: `hr-bench-${run}:`,
    HOOKRELAY_KAFKA_TOPIC: `hr-bench-${run}`,
    HOOKRELAY_KAFKA_CONSUMER_GROUP: `hr-bench-${run}`,
  };
  const drop = async () => {
    try {
      await admin`DROP SCHEMA IF EXISTS ${admin(schema)} CASCADE`;
    } finally {
      await admin.end();
    }
  };
  return { env, schema, topic: env.HOOKRELAY_KAFKA_TOPIC, drop };
}

export async function startProduction(log: (line: string) => void, overrides: Record<string, string> = {}): Promise<Deployment> {
  const backends = await productionBackends(log);
  const { schema } = backends;
  const bin = process.env.BENCH_BIN?.split(" ") ?? ["bun", "src/cli/main.ts"];
  const { ports, env } = portsAndEnv({
    ...productionDefaults(),
    ...backends.env,
    HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn",
    ...overrides,
    ...passThrough(),
  });
  const childEnv = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env };
  const migrate = Bun.spawnSync([...bin, "migrate", "up"], { cwd: ROOT, env: childEnv, stdout: "pipe", stderr: "pipe" });
  if (migrate.exitCode !== 0) throw new Error(`${bin.join(" ")} migrate up failed: ${migrate.stdout}${migrate.stderr}`);
  const procs: { role: string; proc: Subprocess<"ignore", "ignore", "pipe">; err: string }[] = [];
  const stopAll = async () => {
    for (const p of procs) if (p.proc.exitCode === null) p.proc.kill("SIGTERM");
    await Promise.all(procs.map((p) => p.proc.exited));
    await backends.drop();
  };
  const spawn = (role: string) => {
    const entry = { role, proc: Bun.spawn([...bin, role], { cwd: ROOT, env: childEnv, stdin: "ignore", stdout: "ignore", stderr: "pipe" }), err: "" };
    (async () => {
      for await (const chunk of entry.proc.stderr) entry.err = (entry.err + new TextDecoder().decode(chunk)).slice(-4000);
    })();
    procs.push(entry);
  };
  const broken = () => {
    const dead = procs.find((p) => p.proc.exitCode !== null);
    return dead ? `${dead.role} exited ${dead.proc.exitCode}:\n${dead.err}` : null;
  };
  const healthy = async (port: number) => {
    const why = broken();
    if (why) throw new Error(why);
    return fetch(`http://127.0.0.1:${port}/health`).then(
      (r) => r.ok,
      () => false,
    );
  };
  try {
    spawn("gateway");
    await waitFor("gateway /health", () => healthy(ports.gateway), 60_000, 100);
    for (const role of ROLES.slice(1)) spawn(role);
    spawn("registry");
    for (const role of ROLES.slice(1)) await waitFor(`${role} /health`, () => healthy(ports[role]), 60_000, 100);
    await waitFor("registry (gRPC) listening", () => listening(ports.registry), 60_000, 100);
    const token = await adminToken(`http://127.0.0.1:${ports.gateway}`);
    log(`bench: production roles up (schema ${schema}, topic ${backends.topic})`);
    return {
      kind: "production",
      command: [...bin, "<role>"],
      gateway: `http://127.0.0.1:${ports.gateway}`,
      ingest: `http://127.0.0.1:${ports.ingest}`,
      token,
      processes: procs.map((p) => ({ role: p.role, pid: p.proc.pid })),
      backends: backendPids(),
      database: { kind: "postgres", url: backends.env.DATABASE_URL! },
      broken,
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

/** The pids `bun run services:up` wrote (.services/<name>.pid), for the backends' CPU in the figures. */
function backendPids(): { name: string; pid: number }[] {
  return ["postgres", "redis", "kafka"].flatMap((name) => {
    try {
      const pid = Number(
        readFileSync(resolve(ROOT, ".services", `${name}.pid`), "utf8")
          .trim()
          .split("\n")[0],
      );
      return Number.isInteger(pid) && pid > 0 ? [{ name, pid }] : [];
    } catch {
      return [];
    }
  });
}
