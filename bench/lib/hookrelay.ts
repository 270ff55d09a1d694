/** @module hookrelay under benchmark: a child `hookrelay all` on free ports, with HOOKRELAY_* and BENCH_CMD passed through. */
import { adminToken } from "../../tests/helpers/hookrelay.ts";
import { type ChildInstance, childInstance } from "../../tests/helpers/process.ts";

/**
 * Starts `bun src/cli/main.ts all` (or BENCH_CMD, e.g. a profiling command or `dist/hookrelay all`)
 * on a fresh data directory; this process's HOOKRELAY_* variables override the test defaults.
 */
export async function startHookrelay(overrides: Record<string, string> = {}): Promise<{ hr: ChildInstance; token: string; command: string[] }> {
  const passThrough = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith("HOOKRELAY_"))) as Record<string, string>;
  const command = process.env.BENCH_CMD?.split(" ") ?? ["bun", "src/cli/main.ts", "all"];
  const hr = childInstance({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn", ...overrides, ...passThrough }, command);
  await hr.start();
  return { hr, token: await adminToken(hr.gateway), command };
}

/** SIGTERM, then wait for the exit. */
export async function stopHookrelay(hr: ChildInstance): Promise<void> {
  if (hr.proc.exitCode !== null) return;
  hr.proc.kill("SIGTERM");
  await hr.proc.exited;
}
