/** @module Measurements of a process from /proc (CPU time, RSS) and of latency samples (percentiles). */
import { readdirSync, readFileSync } from "node:fs";
import { childrenByParent } from "../../tests/helpers/process.ts";

const CLK_TCK = Number(Bun.spawnSync(["getconf", "CLK_TCK"]).stdout.toString().trim()) || 100;

/** User + system CPU time of a process so far, in microseconds (/proc/<pid>/stat utime and stime). */
export function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const utime = Number(fields[11]);
  const stime = Number(fields[12]);
  return ((utime + stime) * 1_000_000) / CLK_TCK;
}

/** A memory figure of /proc/<pid>/status in MiB: VmHWM (peak RSS) or VmRSS (now). */
export function memoryMiB(pid: number, field: "VmHWM" | "VmRSS" = "VmHWM"): number {
  const kib = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`${field}:\\s+(\\d+)`))?.[1];
  if (kib === undefined) throw new Error(`/proc/${pid}/status has no ${field}`);
  return Math.round((Number(kib) / 1024) * 10) / 10;
}

/** The p-th percentile (0–100) of ascending-sorted values, nearest rank. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Rounds to `digits` decimals (results files hold readable numbers). */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/** `pid` and every live process under it, parents first. */
export function processTree(pid: number): number[] {
  const children = childrenByParent();
  const tree: number[] = [];
  const walk = (p: number) => {
    tree.push(p);
    for (const child of children.get(p) ?? []) walk(child);
  };
  walk(pid);
  return tree;
}

/**
 * CPU-µs of `pid` and every process under it (PostgreSQL forks a server process per connection),
 * read now; children that exited in between are not counted (their time lands in cutime only once reaped).
 */
export function treeCpuMicros(pid: number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += cpuMicros(p);
    } catch {} // gone meanwhile
  }
  return total;
}

/**
 * CPU nanoseconds so far of each live thread of `pid` (each task's schedstat under /proc/<pid>/task), with the
 * thread's name: finer than utime's 10 ms ticks, for figures of 0.1% of a core.
 */
export function threadCpuNanos(pid: number): Map<string, { name: string; ns: number }> {
  const found = new Map<string, { name: string; ns: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    try {
      const name = readFileSync(`/proc/${pid}/task/${tid}/comm`, "utf8").trim();
      found.set(tid, { name, ns: Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]) });
    } catch {} // ended meanwhile
  }
  return found;
}
