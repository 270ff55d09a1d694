/** @module The private Redis server: started afresh, started again on its append-only file, and asked whether it answers. */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { HOST, logFile, PORTS, path, pidFile } from "./config.ts";
import { mustRun, run, type Spec } from "./process.ts";

async function startRedis(): Promise<void> {
  const dataDir = path("redis");
  rmSync(dataDir, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  writeFileSync(logFile("redis"), "");
  await launchRedis(dataDir);
}

/** Redis again on its directory: it reloads the append-only file, so the retry schedule survives. */
async function resumeRedis(): Promise<void> {
  const dataDir = path("redis");
  if (!existsSync(dataDir)) throw new Error(`no Redis data in ${dataDir} to start again on`);
  await launchRedis(dataDir);
}

/**
 * Persisted as production Redis must be for hookrelay (the retry schedule lives there): every
 * write in the append-only file, fsynced before the reply, so a restart loses nothing.
 * --daemonize: the server detaches itself and writes its own pid file.
 */
async function launchRedis(dataDir: string): Promise<void> {
  await mustRun("redis-server", [
    "redis-server",
    "--bind",
    HOST,
    "--port",
    String(PORTS.redis),
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    "--daemonize",
    "yes",
    "--pidfile",
    pidFile("redis"),
    "--logfile",
    logFile("redis"),
    "--dir",
    dataDir,
  ]);
}

/**
 * A Redis started before it had --appendonly (an older `services:up`) would come back empty:
 * turn the append-only file on and wait until it holds the whole dataset.
 */
async function redisPersistAll(): Promise<void> {
  const cli = ["redis-cli", "-h", HOST, "-p", String(PORTS.redis)];
  await mustRun("redis-cli config set appendonly", [...cli, "config", "set", "appendonly", "yes"]);
  await mustRun("redis-cli config set appendfsync", [...cli, "config", "set", "appendfsync", "always"]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const info = await mustRun("redis-cli info persistence", [...cli, "info", "persistence"]);
    if (/^aof_enabled:1\b/m.test(info) && /^aof_rewrite_in_progress:0\b/m.test(info) && /^aof_rewrite_scheduled:0\b/m.test(info)) return;
    if (Date.now() > deadline) throw new Error(`redis: the append-only file was not complete within 20 s:\n${info}`);
    await Bun.sleep(50);
  }
}

async function redisAnswers(): Promise<boolean> {
  const r = await run(["redis-cli", "-h", HOST, "-p", String(PORTS.redis), "ping"]);
  return r.code === 0 && r.out.trim() === "PONG";
}

export const redisSpec: Spec = {
  start: startRedis,
  answers: redisAnswers,
  ports: [PORTS.redis],
  timeoutMs: 20_000,
  signal: "SIGTERM",
  resume: resumeRedis,
  pauseSignal: "SIGTERM",
  beforePause: redisPersistAll,
};
