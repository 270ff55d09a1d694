/**
 * @module Scenario (a), ingest only: a child `hookrelay all` with no webhook, vegeta offering
 * each rate in turn (one unique event per request to POST /events), CPU and RSS of the hookrelay
 * process from /proc around each step.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Ceilings } from "../lib/ceilings.ts";
import { startHookrelay, stopHookrelay } from "../lib/hookrelay.ts";
import { cpuMicros, memoryMiB, round } from "../lib/measure.ts";
import { ingestStep, type Result, type Step } from "../lib/results.ts";
import { runAttack } from "../lib/vegeta.ts";

export interface IngestOptions {
  rates: number[];
  seconds: number;
  p99BoundMs: number;
  vegeta: string;
  ceilings: Ceilings;
  log(line: string): void;
}

export async function ingestScenario(o: IngestOptions): Promise<Pick<Result, "command" | "idle_cpu_us_per_s" | "steps" | "peak_rss_mib" | "highest_rate_within_p99">> {
  const { hr, token, command } = await startHookrelay();
  const dir = mkdtempSync(join(tmpdir(), "bench-ingest-"));
  const run = Math.random().toString(36).slice(2, 8);
  const steps: Step[] = [];
  try {
    // What hookrelay burns with no load (pollers, timers): per-event CPU at low rates includes it.
    const idleBefore = cpuMicros(hr.proc.pid);
    await Bun.sleep(2000);
    const idleCpuUsPerS = round((cpuMicros(hr.proc.pid) - idleBefore) / 2, 0);
    o.log(`bench: hookrelay idle ${idleCpuUsPerS} CPU-µs/s`);
    for (const rate of o.rates) {
      const pid = hr.proc.pid;
      const cpuBefore = cpuMicros(pid);
      const report = await runAttack(o.vegeta, dir, {
        url: `${hr.ingest}/events`,
        token,
        rate,
        seconds: o.seconds,
        body: (n) => ({ id: `a_${run}_${rate}_${n}`, type: "bench.ingest", source: "bench", data: { n, rate } }),
      });
      if (hr.proc.exitCode !== null) throw new Error(`hookrelay exited ${hr.proc.exitCode} during the ${rate}/s step:\n${hr.output()}`);
      const cpu = cpuMicros(pid) - cpuBefore;
      const accepted = report.status_codes["202"] ?? 0;
      const offered = rate * o.seconds;
      const cpuPerEvent = accepted > 0 ? round(cpu / accepted) : Number.NaN;
      const step: Step = ingestStep({ rate, seconds: o.seconds, report, cpuUsPerEvent: cpuPerEvent, rssMib: memoryMiB(pid, "VmRSS"), ceilings: o.ceilings });
      steps.push(step);
      o.log(
        `bench: ingest ${rate}/s × ${o.seconds}s → ${report.requests}/${offered} sent, ${accepted} accepted, p50 ${step.latency_ms.p50} ms, p99 ${step.latency_ms.p99} ms, max ${step.latency_ms.max} ms, ${cpuPerEvent} CPU-µs/event`,
      );
      await Bun.sleep(500);
    }
    const within = steps.filter((s) => s.latency_ms.p99 < o.p99BoundMs && s.lost === 0).map((s) => s.offered_per_s);
    return {
      command,
      idle_cpu_us_per_s: idleCpuUsPerS,
      steps,
      peak_rss_mib: memoryMiB(hr.proc.pid, "VmHWM"),
      highest_rate_within_p99: { bound_ms: o.p99BoundMs, rate: within.length > 0 ? Math.max(...within) : null },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await stopHookrelay(hr);
  }
}
