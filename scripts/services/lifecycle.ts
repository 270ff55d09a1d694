/** @module One service at a time: installing what it lacks, starting it, stopping it, and starting it again on its data. */
import { readFileSync, rmSync } from "node:fs";
import { HOST, isRoot, type Log, logFile, path, pidFile, rel, type ServiceName, seconds } from "./config.ts";
import { kafkaCached, kafkaSpec } from "./kafka.ts";
import { postgresBin, postgresSpec, removePostgresTempDataDir } from "./postgres.ts";
import { alive, mustRun, portAnswers, runningPid, type Spec, waitUntil } from "./process.ts";
import { redisSpec } from "./redis.ts";

export const SPECS: Record<ServiceName, Spec> = { postgres: postgresSpec, redis: redisSpec, kafka: kafkaSpec };

/** Present while `s` is stopped by `stopKeepingData`; holds that process's pid. */
export const heldFile = (s: ServiceName) => path(`${s}.held`);

/** apt-get installs whatever the services to start, and the tests, lack (root only, as on CI). */
export async function ensurePackages(toStart: ServiceName[], log: Log): Promise<void> {
  const missing: string[] = [];
  if (toStart.includes("postgres") && !postgresBin()) missing.push("postgresql");
  if (toStart.includes("redis") && !(Bun.which("redis-server") && Bun.which("redis-cli"))) missing.push("redis-server");
  if (toStart.includes("kafka") && !Bun.which("java")) missing.push("openjdk-17-jre-headless");
  if (toStart.includes("kafka") && !kafkaCached() && !Bun.which("mvn")) missing.push("maven");
  // Not a service: the TLS tests make their certificates with it (Debian's postgresql pulls it in too).
  if (!Bun.which("openssl")) missing.push("openssl");
  // Not a service either: the dashboard test drives Debian's Chromium (playwright-core, no bundled browser).
  if (!Bun.which("chromium")) missing.push("chromium");
  if (missing.length === 0) return;
  if (!isRoot) throw new Error(`missing ${missing.join(", ")}: run  sudo apt-get install -y ${missing.join(" ")}  and try again`);
  log(`services: installing ${missing.join(" ")} with apt-get`);
  const env = { DEBIAN_FRONTEND: "noninteractive" };
  await mustRun("apt-get update", ["apt-get", "update", "-q"], { env });
  await mustRun("apt-get install", ["apt-get", "install", "-y", "-q", "--no-install-recommends", ...missing], { env });
}

export function waitUntilAnswers(s: ServiceName): Promise<void> {
  return waitUntil(s, SPECS[s], SPECS[s].answers);
}

/** Throws when one of `s`'s ports answers, i.e. a process this checkout did not start holds it. */
export async function ensurePortsFree(s: ServiceName, hint = ""): Promise<void> {
  for (const port of SPECS[s].ports) {
    if (await portAnswers(port)) throw new Error(`${s}: port ${HOST}:${port} is taken by a process this checkout did not start${hint}`);
  }
}

/** Starts `s` afresh on new data and waits until it answers. */
export async function start(s: ServiceName, log: Log): Promise<void> {
  const began = performance.now();
  try {
    await SPECS[s].start(log);
  } catch (err) {
    throw new Error(`${s} did not start: ${(err as Error).message}\n(log: ${rel(logFile(s))})`);
  }
  await waitUntilAnswers(s);
  log(`services: ${s} up on ${HOST}:${SPECS[s].ports[0]} in ${seconds(began)}`);
}

/** Signals `s`'s process and waits until it is gone (SIGKILL after 30 s); its data stays. */
export async function halt(s: ServiceName, signal: NodeJS.Signals, log: Log): Promise<void> {
  const pid = runningPid(s);
  if (pid !== undefined) {
    process.kill(pid, signal);
    const deadline = Date.now() + 30_000;
    while (alive(pid) && Date.now() < deadline) await Bun.sleep(100);
    if (alive(pid)) process.kill(pid, "SIGKILL");
    while (alive(pid)) await Bun.sleep(50);
    log(`services: stopped ${s} (pid ${pid})`);
  }
  rmSync(pidFile(s), { force: true });
}

/** Stops `s` and deletes its data. */
export async function stop(s: ServiceName, log: Log): Promise<void> {
  await halt(s, SPECS[s].signal, log);
  rmSync(heldFile(s), { force: true });
  if (s === "postgres") removePostgresTempDataDir();
  rmSync(path(s), { recursive: true, force: true });
}

/** Sockets on a local port of `s` in any state (TIME_WAIT included), from /proc/net/tcp and tcp6; 0 where /proc has none. */
function socketsOnPorts(s: ServiceName): number {
  const ports = new Set(SPECS[s].ports);
  let found = 0;
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = readFileSync(table, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const local = line.trim().split(/\s+/)[1];
      if (local && ports.has(Number.parseInt(local.split(":").at(-1)!, 16))) found++;
    }
  }
  return found;
}

/**
 * Waits (up to 70 s) until nothing holds `s`'s ports any more, TIME_WAIT included: a broker stopped
 * with SIGTERM closes its connections first, leaving them in TIME_WAIT for 60 s, and a clean-clone
 * run once saw the broker started again at once exit without binding its controller port.
 */
async function waitForPortsReleased(s: ServiceName, log: Log): Promise<void> {
  const deadline = Date.now() + 70_000;
  let said = false;
  while (socketsOnPorts(s) > 0 && Date.now() < deadline) {
    if (!said) log(`services: waiting for ${s}'s ports to be released (connections in TIME_WAIT)`);
    said = true;
    await Bun.sleep(250);
  }
}

/** Starts `s` again on the data it left and waits until it answers (three tries: a loaded machine can lose a start). */
export async function resume(s: ServiceName, log: Log): Promise<void> {
  const began = performance.now();
  for (let attempt = 1; ; attempt++) {
    await ensurePortsFree(s);
    // Only after a failed start: the broker usually binds at once (2.5 s here with its old
    // connections in TIME_WAIT), and waiting first cost every restart 60 s.
    if (s === "kafka" && attempt > 1) await waitForPortsReleased(s, log);
    try {
      await SPECS[s].resume(log);
    } catch (err) {
      throw new Error(`${s} did not start again: ${(err as Error).message}\n(log: ${rel(logFile(s))})`);
    }
    try {
      await waitUntilAnswers(s);
      break;
    } catch (err) {
      if (attempt >= 3) throw err;
      log(`services: ${s} did not come up again (${(err as Error).message.split("\n")[0]}); starting it once more`);
      await halt(s, SPECS[s].signal, log);
      await Bun.sleep(500);
    }
  }
  rmSync(heldFile(s), { force: true });
  log(`services: ${s} up again on ${HOST}:${SPECS[s].ports[0]} (data kept) in ${seconds(began)}`);
}
