/**
 * @module `bun run services:up` / `bun run services:down`: PostgreSQL, Redis and one Kafka broker on
 * 127.0.0.1 for tests and benchmarks, with throwaway data under `.services/`.
 *
 * PostgreSQL and Redis come from Debian's packages (installed with apt-get when absent) and run
 * as private instances, never the Debian cluster. The Kafka broker's jars come from Maven Central
 * once, into `${XDG_CACHE_HOME:-~/.cache}/hookrelay/kafka-<version>/libs`. `up()` is idempotent.
 * `scripts/test.ts` calls `useServices()`: what a test run starts is stopped when the last
 * test run using it ends, and what `services:up` started stays up. `restart()` (or
 * `stopKeepingData()` / `startAgain()`) takes one service away and brings it back on the same
 * data, for tests of outages; `bun scripts/services/index.ts restart redis 3000` does it by hand.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ENV, type Log, NAMES, path, rel, type ServiceName, type ServicesEnv, seconds, stderrLog } from "./config.ts";
import { ensurePackages, ensurePortsFree, halt, heldFile, resume, SPECS, start, stop, waitUntilAnswers } from "./lifecycle.ts";
import { alive, runningPid, withLock } from "./process.ts";

export { ENV, KAFKA_VERSION, type ServiceName, type ServicesEnv, STATE_DIR } from "./config.ts";

/**
 * Test runs using the services: `users/<pid>` per run, and `test-owned` naming the services a
 * test run started. The last run to leave stops those; `bun run services:up` claims them for
 * the person who asked, so they stay up.
 */
const usersDir = () => path("users");
const testOwned = () => path("test-owned");
function liveUsers(): number[] {
  if (!existsSync(usersDir())) return [];
  const pids = readdirSync(usersDir()).map(Number);
  for (const gone of pids.filter((pid) => !alive(pid))) rmSync(join(usersDir(), String(gone)), { force: true });
  return pids.filter(alive);
}
function readTestOwned(): ServiceName[] {
  return existsSync(testOwned())
    ? (readFileSync(testOwned(), "utf8")
        .split("\n")
        .filter((n) => NAMES.includes(n as ServiceName)) as ServiceName[])
    : [];
}

/**
 * Stops one running service with a clean shutdown and keeps its data, for tests of what
 * clients do while it is away; {@link startAgain} brings it back. Takes the lock only for the
 * stop itself: a test run starting meanwhile (useServices, up) starts it again on its data
 * rather than afresh, so nobody's data is wiped and nobody waits for the outage to end.
 */
export function stopKeepingData(s: ServiceName, log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    if (runningPid(s) === undefined) throw new Error(`${s} is not running here: \`bun run services:up\` first`);
    await SPECS[s].beforePause?.();
    writeFileSync(heldFile(s), String(process.pid));
    await halt(s, SPECS[s].pauseSignal, log);
  });
}

/** Starts a service stopped by {@link stopKeepingData} again on its data and waits until it answers (a no-op wait when it already runs). */
export function startAgain(s: ServiceName, log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    if (runningPid(s) !== undefined) {
      await waitUntilAnswers(s);
      rmSync(heldFile(s), { force: true });
      return;
    }
    await resume(s, log);
  });
}

/** What {@link restart} took, in milliseconds. */
export interface Restarted {
  /** From the signal until the process was gone. */
  stopMs: number;
  /** From the process gone until the service answered again. */
  downMs: number;
  /** From the start command until the service answered again. */
  startMs: number;
}

/**
 * Stops one service (clean shutdown), waits `downMs`, starts it again on the same data and
 * waits until it answers.
 */
export async function restart(s: ServiceName, downMs: number, log: Log = stderrLog): Promise<Restarted> {
  const began = performance.now();
  await stopKeepingData(s, log);
  const stopped = performance.now();
  let starting = stopped;
  try {
    await Bun.sleep(downMs);
  } finally {
    starting = performance.now();
    await startAgain(s, log);
  }
  const now = performance.now();
  return { stopMs: Math.round(stopped - began), downMs: Math.round(now - stopped), startMs: Math.round(now - starting) };
}

export interface Up {
  env: ServicesEnv;
  /** The services this call started; the others were already up. */
  started: ServiceName[];
}

async function upLocked(log: Log): Promise<Up> {
  const notRunning = NAMES.filter((s) => runningPid(s) === undefined);
  // Stopped by stopKeepingData (a test restarting it): start it again on its data, not afresh;
  // whoever stopped it finds it running when it calls startAgain.
  const held = notRunning.filter((s) => existsSync(heldFile(s)));
  for (const s of held) await resume(s, log);
  const toStart = notRunning.filter((s) => !held.includes(s));
  // A pid file whose process is gone: its data is stale, start that one afresh.
  for (const s of toStart) await stop(s, () => {});
  // Also when every service is up already: the tests' own tools (openssl, chromium) may be missing.
  await ensurePackages(toStart, log);
  if (toStart.length > 0) {
    for (const s of toStart) await ensurePortsFree(s, " (another checkout's services? `bun run services:down` there, or move this checkout's with HOOKRELAY_SERVICES_<NAME>_PORT)");
    const results = await Promise.allSettled(toStart.map((s) => start(s, log)));
    const failures = results.flatMap((r) => (r.status === "rejected" ? [(r.reason as Error).message] : []));
    if (failures.length > 0) {
      for (const s of toStart) await stop(s, log);
      throw new Error(failures.join("\n\n"));
    }
  }
  for (const s of NAMES.filter((n) => !toStart.includes(n))) await waitUntilAnswers(s);
  writeFileSync(
    path("env"),
    Object.entries(ENV)
      .map(([k, v]) => `${k}=${v}\n`)
      .join(""),
  );
  return { env: ENV, started: toStart };
}

/** Starts whichever of PostgreSQL, Redis and Kafka is not running, waits until all three answer, writes `.services/env`. */
export function up(log: Log = stderrLog): Promise<Up> {
  return withLock(log, async () => {
    const result = await upLocked(log);
    rmSync(testOwned(), { force: true });
    return result;
  });
}

/** Stops all three (whoever started them) and removes their data; the Kafka jar cache stays. */
export function down(log: Log = stderrLog): Promise<void> {
  return withLock(log, async () => {
    for (const s of NAMES) await stop(s, log);
    for (const p of [path("env"), testOwned(), usersDir()]) rmSync(p, { recursive: true, force: true });
  });
}

export interface Lease extends Up {
  /** Leaves; the last test run to leave stops what test runs started. */
  release: () => Promise<void>;
}

/** `up()` for a test run, which counts as a user of the services until `release()`. */
export async function useServices(log: Log = stderrLog): Promise<Lease> {
  const me = join(usersDir(), String(process.pid));
  // Registered before waiting for the lock, so that a run finishing meanwhile leaves them up for us.
  mkdirSync(usersDir(), { recursive: true });
  writeFileSync(me, "");
  const leave = async () => {
    rmSync(me, { force: true });
    const owned = readTestOwned();
    const others = liveUsers();
    if (owned.length === 0) return;
    if (others.length > 0) return log(`services: leaving ${owned.join(", ")} running for pid ${others.join(", ")}`);
    for (const s of owned) await stop(s, log);
    for (const p of [path("env"), testOwned(), usersDir()]) rmSync(p, { recursive: true, force: true });
  };
  try {
    const result = await withLock(log, async () => {
      const r = await upLocked(log);
      if (r.started.length > 0) writeFileSync(testOwned(), [...new Set([...readTestOwned(), ...r.started])].join("\n"));
      return r;
    });
    return { ...result, release: () => withLock(log, leave) };
  } catch (err) {
    rmSync(me, { force: true });
    throw err;
  }
}

if (import.meta.main) {
  const command = process.argv[2];
  try {
    if (command === "up") {
      const began = performance.now();
      const { env, started } = await up();
      console.error(started.length > 0 ? `services: started ${started.join(", ")} in ${seconds(began)}` : "services: already up");
      for (const [k, v] of Object.entries(env)) console.log(`${k}=${v}`);
      console.error(`services: written to ${rel(path("env"))}; load it with  set -a; . ${rel(path("env"))}; set +a`);
    } else if (command === "down") {
      await down();
    } else if (command === "restart" && NAMES.includes(process.argv[3] as ServiceName)) {
      const took = await restart(process.argv[3] as ServiceName, Number(process.argv[4] ?? 0));
      console.error(`services: ${process.argv[3]} down for ${took.downMs} ms (stop ${took.stopMs} ms, start ${took.startMs} ms), data kept`);
    } else {
      console.error("usage: bun scripts/services/index.ts up|down|restart <postgres|redis|kafka> [down-ms]");
      process.exit(2);
    }
  } catch (err) {
    console.error(`services ${command}: ${(err as Error).message}`);
    process.exit(1);
  }
  process.exit(0);
}
