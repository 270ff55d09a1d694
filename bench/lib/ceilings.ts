/**
 * @module Ceilings measured in the same run as each benchmark (bench/README.md): raw `Bun.serve`
 * small POSTs/s under wrk (64 connections), and raw Bun `fetch` POSTs/s to a sink (concurrency 64),
 * each with the CPU-µs per request of the process doing the work. The fetch ceiling uses the run's
 * receiver scheme (https: the same sink certificate hookrelay delivers to).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnBenchScript } from "./children.ts";
import { cpuMicros, round } from "./measure.ts";
import type { Receiver } from "./receiver.ts";

export interface Ceiling {
  per_s: number;
  /** CPU-µs per request of the server (serve) or the client (fetch) process. */
  cpu_us_per_request: number;
  seconds: number;
}

export interface Ceilings {
  serve_post: Ceiling;
  fetch_post: Ceiling;
}

const WRK_POST = `wrk.method = "POST"
wrk.body = '{"id":"evt_ceiling","type":"bench","source":"bench","data":{"n":1}}'
wrk.headers["Content-Type"] = "application/json"
`;

/** Raw Bun.serve POST/s: wrk -t2 -c64 for `seconds` against bench/raw-serve.ts. */
export async function servePostCeiling(wrk: string, seconds: number): Promise<Ceiling> {
  // A literal script name: the bench kit finds the scripts to bundle by their spawnBenchScript calls.
  const server = await spawnBenchScript<{ port: number }>("raw-serve.ts");
  try {
    return wrkPosts(wrk, seconds, { port: server.first.port, pid: server.proc.pid }, "raw Bun.serve", false);
  } finally {
    await server.stop();
  }
}

/**
 * POSTs/s under wrk -t2 -c64 for `seconds` against a server on `port` (a bench child; its CPU is
 * read from /proc), and that server's CPU-µs per request; `refusals` when every answer is meant to
 * be an error (a 503).
 */
export function wrkPosts(wrk: string, seconds: number, server: { port: number; pid: number }, what: string, refusals: boolean): Ceiling {
  const dir = mkdtempSync(join(tmpdir(), "bench-wrk-"));
  try {
    const script = join(dir, "post.lua");
    writeFileSync(script, WRK_POST);
    const cpuBefore = cpuMicros(server.pid);
    const run = Bun.spawnSync([wrk, "-t2", "-c64", `-d${seconds}s`, "-s", script, `http://127.0.0.1:${server.port}/events`], { stdout: "pipe", stderr: "pipe" });
    const cpu = cpuMicros(server.pid) - cpuBefore;
    const out = run.stdout.toString();
    const rate = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1]);
    const total = Number(out.match(/(\d+) requests in/)?.[1]);
    if (run.exitCode !== 0 || !Number.isFinite(rate) || !total) throw new Error(`wrk failed (exit ${run.exitCode}):\n${out}${run.stderr.toString()}`);
    const errors = Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0);
    if (refusals ? errors !== total : errors > 0) throw new Error(`${what} answered ${errors} of ${total} with errors under wrk:\n${out}`);
    // A refused connection would show as socket errors: none is allowed (keep-alive is kept).
    if (/Socket errors/.test(out)) throw new Error(`${what}: socket errors under wrk:\n${out}`);
    return { per_s: Math.round(rate), cpu_us_per_request: round(cpu / total), seconds };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Raw Bun fetch POST/s: bench/fetch-load.ts at concurrency 64 for `seconds` to bench/sink.ts, over the receiver's scheme. */
export async function fetchPostCeiling(seconds: number, receiver: Receiver): Promise<Ceiling> {
  const sink = await spawnBenchScript<{ port: number }>("sink.ts", [], 30_000, receiver.sinkEnv);
  try {
    const load = await spawnBenchScript<{ requests: number; failed: number; seconds: number; cpu_us: number }>(
      "fetch-load.ts",
      [receiver.url(sink.first.port, "/ceiling"), String(seconds), "64", ...(receiver.caFile ? [receiver.caFile] : [])],
      (seconds + 30) * 1000,
    );
    const { requests, failed, seconds: took, cpu_us } = load.first;
    await load.proc.exited;
    if (failed > 0 || requests === 0) throw new Error(`fetch ceiling: ${requests} ok, ${failed} failed`);
    return { per_s: Math.round(requests / took), cpu_us_per_request: round(cpu_us / requests), seconds };
  } finally {
    await sink.stop();
  }
}

/** The raw costs at a given rate rather than at saturation: what one request in and one out cost at the pace of a step. */
export interface SameRateCosts {
  rate: number;
  /** Raw Bun.serve's CPU-µs per POST under vegeta at `rate`. */
  serve_us: number;
  /** Raw fetch's CPU-µs per POST, sent at `rate` on a schedule, over the receiver's scheme. */
  fetch_us: number;
}

/**
 * Raw Bun.serve (vegeta at `rate`) and raw fetch (`rate` a second on a schedule) for `seconds` each,
 * one after the other. A process at 5,000 requests/s pays more per request than one saturated (fewer
 * requests per wake-up and per turn of the loop): this is the cost hookrelay's figure at that rate
 * compares with like for like.
 */
export async function sameRateCosts(vegeta: string, rate: number, seconds: number, receiver: Receiver): Promise<SameRateCosts> {
  const server = await spawnBenchScript<{ port: number }>("raw-serve.ts");
  const dir = mkdtempSync(join(tmpdir(), "bench-rate-"));
  let serveUs: number;
  try {
    writeFileSync(join(dir, "body.json"), '{"id":"evt_ceiling","type":"bench","source":"bench","data":{"n":1}}');
    writeFileSync(join(dir, "targets.txt"), `POST http://127.0.0.1:${server.first.port}/events\nContent-Type: application/json\n@${join(dir, "body.json")}\n`);
    const cpuBefore = cpuMicros(server.proc.pid);
    const attack = Bun.spawnSync([vegeta, "attack", `-rate=${rate}/1s`, `-duration=${seconds}s`, `-targets=${join(dir, "targets.txt")}`, `-output=${join(dir, "out.bin")}`], { stderr: "pipe" });
    if (attack.exitCode !== 0) throw new Error(`vegeta at ${rate}/s failed: ${attack.stderr.toString()}`);
    serveUs = round((cpuMicros(server.proc.pid) - cpuBefore) / (rate * seconds));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
  const sink = await spawnBenchScript<{ port: number }>("sink.ts", [], 30_000, receiver.sinkEnv);
  try {
    const load = await spawnBenchScript<{ requests: number; failed: number; cpu_us: number }>(
      "fetch-load.ts",
      [receiver.url(sink.first.port, "/ceiling"), String(seconds), "64", receiver.caFile ?? "", String(rate)],
      (seconds + 30) * 1000,
    );
    await load.proc.exited;
    const { requests, failed, cpu_us } = load.first;
    if (failed > 0 || requests === 0) throw new Error(`fetch at ${rate}/s: ${requests} ok, ${failed} failed`);
    return { rate, serve_us: serveUs, fetch_us: round(cpu_us / requests) };
  } finally {
    await sink.stop();
  }
}

/** Both ceilings, one after the other (never concurrently: they share the two cores). */
export async function measureCeilings(wrk: string, seconds: number, receiver: Receiver): Promise<Ceilings> {
  return { serve_post: await servePostCeiling(wrk, seconds), fetch_post: await fetchPostCeiling(seconds, receiver) };
}
