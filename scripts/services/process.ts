/** @module The services' processes: commands, pid files, detached spawning, alive checks, waiting, logs and the lock. */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { HOST, type Log, logFile, path, pidFile, rel, type ServiceName, STATE_DIR } from "./config.ts";

/** How one service is started, checked, stopped and started again; each service's file exports one. */
export interface Spec {
  start: (log: Log) => Promise<void>;
  answers: () => Promise<boolean>;
  ports: number[];
  timeoutMs: number;
  /**
   * PostgreSQL's fast shutdown is SIGINT (SIGTERM waits for every client to leave); the broker
   * gets SIGKILL: its data is thrown away, so a controlled shutdown would only cost seconds.
   */
  signal: NodeJS.Signals;
  /** Starts the server again on the data it left (`stopKeepingData`). */
  resume: (log: Log) => Promise<void>;
  /** The stop that keeps the data usable: a clean shutdown (the broker's controlled one, too). */
  pauseSignal: NodeJS.Signals;
  /** Makes sure what the server holds will be there after a stop with `pauseSignal`. */
  beforePause?: () => Promise<void>;
}

interface Ran {
  code: number;
  out: string;
}
export async function run(cmd: string[], opts: { env?: Record<string, string | undefined>; cwd?: string } = {}): Promise<Ran> {
  const child = Bun.spawn(cmd, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text(), child.exited]);
  return { code, out: out + err };
}
export async function mustRun(what: string, cmd: string[], opts?: Parameters<typeof run>[1]): Promise<string> {
  const r = await run(cmd, opts);
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}): ${cmd.join(" ")}\n${lastLines(r.out, 30)}`);
  return r.out;
}
function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
export function logTail(s: ServiceName): string {
  try {
    return lastLines(readFileSync(logFile(s), "utf8"), 25);
  } catch {
    return "(no log)";
  }
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A zombie answers kill(0) until someone reaps it, which a container's init may do late;
    // it is gone once its last thread is (a JVM's threads outlive its main one for a moment).
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    return !(/^State:\s+Z/m.test(status) && /^Threads:\s+1$/m.test(status));
  } catch {
    return true;
  }
}
/** The pid in `s`'s pid file when that process is alive and really is `s` (pids get reused). */
export function runningPid(s: ServiceName): number | undefined {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(pidFile(s), "utf8"), 10);
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0 || !alive(pid)) return undefined;
  const marker = { postgres: "postgres", redis: "redis-server", kafka: "kafka.Kafka" }[s];
  try {
    if (!readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(marker)) return undefined;
  } catch {
    // No /proc: trust the pid file.
  }
  return pid;
}

/** Starts a server in its own process group, output to its log file, and records its pid. */
export function spawnDetached(s: ServiceName, cmd: string[], cwd: string, logMode: "w" | "a"): void {
  const out = openSync(logFile(s), logMode);
  try {
    const child = Bun.spawn(cmd, { cwd, stdio: ["ignore", out, out], detached: true });
    child.unref();
    writeFileSync(pidFile(s), `${child.pid}\n`);
  } finally {
    closeSync(out);
  }
}

export function portAnswers(port: number): Promise<boolean> {
  return new Promise((done) => {
    const socket = createConnection({ host: HOST, port, timeout: 1000 });
    const finish = (open: boolean) => {
      socket.destroy();
      done(open);
    };
    socket.once("connect", () => finish(true));
    socket.once("timeout", () => finish(false));
    socket.once("error", () => finish(false));
  });
}

/** Asks `answers` every 250 ms until it says yes; fails when `s`'s process is gone or after `spec.timeoutMs`. */
export async function waitUntil(s: ServiceName, spec: Pick<Spec, "ports" | "timeoutMs">, answers: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + spec.timeoutMs;
  for (;;) {
    if (await answers().catch(() => false)) return;
    if (runningPid(s) === undefined) throw new Error(`${s} exited while starting; see ${rel(logFile(s))}:\n${logTail(s)}`);
    if (Date.now() > deadline) throw new Error(`${s} did not answer on ${HOST}:${spec.ports[0]} within ${spec.timeoutMs / 1000} s; see ${rel(logFile(s))}:\n${logTail(s)}`);
    await Bun.sleep(250);
  }
}

/** One `up`/`down` at a time per checkout: a lock directory holding the owner's pid. */
export async function withLock<T>(log: Log, fn: () => Promise<T>): Promise<T> {
  mkdirSync(STATE_DIR, { recursive: true });
  const lock = path("lock");
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      let holder = Number.NaN;
      try {
        holder = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // Taken a moment ago, pid not written yet — unless a crash left it so.
        const taken = statSync(lock, { throwIfNoEntry: false });
        if (!taken) continue;
        if (Date.now() - taken.mtimeMs > 10_000) holder = 0;
      }
      if (holder === 0 || (Number.isInteger(holder) && !alive(holder))) {
        rmSync(lock, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new Error(`${rel(lock)} is still held by pid ${holder}; remove it if that process is gone`);
      if (!told) log(`services: waiting for pid ${holder} (another services:up/down in this checkout)`);
      told = true;
      await Bun.sleep(200);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}
