/** @module Helper Bun processes of a benchmark (raw server, sink, fetch load): spawned, their first JSON line read. */

import { join, resolve } from "node:path";
import type { Subprocess } from "bun";

const BENCH = resolve(import.meta.dir, "..");

/**
 * The script's file: bench/<script> in the source tree, or in BENCH_SCRIPTS_DIR as bundled `.js`
 * (the bench kit's run.sh sets it, bench/KIT.md: a bundle's import.meta.dir is its own folder).
 */
export function benchScriptPath(script: string): string {
  const dir = process.env.BENCH_SCRIPTS_DIR;
  return dir ? join(dir, script.replace(/\.ts$/, ".js")) : resolve(BENCH, script);
}

export interface Child<T> {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  first: T;
  stop(): Promise<void>;
}

/**
 * Runs `bun bench/<script> ...args` (with `env` added) and resolves with its first stdout line parsed
 * as JSON. "bun" is this process's own executable: in the bench kit that is the hookrelay binary,
 * which acts as bun because the inherited BUN_BE_BUN=1 says so.
 */
export async function spawnBenchScript<T>(script: string, args: string[] = [], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Child<T>> {
  const proc = Bun.spawn([process.execPath, benchScriptPath(script), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  const reader = proc.stdout.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const timer = setTimeout(() => proc.kill(), timeoutMs);
  try {
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
  } finally {
    clearTimeout(timer);
    reader.releaseLock();
  }
  const line = text.split("\n")[0]!;
  if (!line) throw new Error(`bench/${script} printed nothing (exit ${await proc.exited}): ${await new Response(proc.stderr).text()}`);
  return {
    proc,
    first: JSON.parse(line) as T,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
    },
  };
}
