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
import type { Result, Step } from "../lib/results.ts";
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
      // 202 is a new event; 200 would be a duplicate id, which this run never sends.
      const accepted = report.status_codes["202"] ?? 0;
      const offered = rate * o.seconds;
      const acceptedPerS = round(accepted / report.duration_s, 1);
      const cpuPerEvent = accepted > 0 ? round(cpu / accepted) : Number.NaN;
      const step: Step = {
        offered_per_s: rate,
        seconds: o.seconds,
        requests: report.requests,
        accepted,
        not_sent: offered - report.requests,
        lost: report.requests - accepted,
        success_ratio: round(accepted / report.requests, 5),
        sent_per_s: report.rate,
        accepted_per_s: acceptedPerS,
        latency_ms: { p50: report.latencies_ms.p50, p99: report.latencies_ms.p99, max: report.latencies_ms.max },
        cpu_us_per_event: cpuPerEvent,
        rss_mib: memoryMiB(pid, "VmRSS"),
        ratios: {
          accepted_to_serve_ceiling: round(acceptedPerS / o.ceilings.serve_post.per_s, 3),
          accepted_to_fetch_ceiling: round(acceptedPerS / o.ceilings.fetch_post.per_s, 3),
          cpu_to_serve_ceiling: round(cpuPerEvent / o.ceilings.serve_post.cpu_us_per_request, 1),
        },
        status_codes: report.status_codes,
        errors: report.errors,
      };
      steps.push(step);
      o.log(`bench: ingest ${rate}/s × ${o.seconds}s → ${report.requests}/${offered} sent, ${accepted} accepted, p50 ${step.latency_ms.p50} ms, p99 ${step.latency_ms.p99} ms, max ${step.latency_ms.max} ms, ${cpuPerEvent} CPU-µs/event`);
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
