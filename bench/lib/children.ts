/** @module Helper Bun processes of a benchmark (raw server, sink, fetch load): spawned, their first JSON line read. */
import type { Subprocess } from "bun";
import { resolve } from "node:path";

const BENCH = resolve(import.meta.dir, "..");

export interface Child<T> {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  first: T;
  stop(): Promise<void>;
}

/** Runs `bun bench/<script> ...args` (with `env` added) and resolves with its first stdout line parsed as JSON. */
export async function spawnBenchScript<T>(script: string, args: string[] = [], timeoutMs = 30_000, env: Record<string, string> = {}): Promise<Child<T>> {
  const proc = Bun.spawn(["bun", resolve(BENCH, script), ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
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
