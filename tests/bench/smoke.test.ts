/**
 * @module Short smoke runs of `bun run bench` so the runner cannot rot: scenario (a) `ingest` and
 * the end-to-end scenario (b) `embedded` with an http and an https receiver, each 200/s for 2 s with
 * 1 s ceilings. It must install or
 * find vegeta and wrk (failing loudly when it cannot), write results files with sane numbers, and
 * the end-to-end run must lose, duplicate and mis-sign nothing. The real benchmark is not part of `bun run test`.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { OUT_DIR, RESULTS_DIR, type Result, resultsTable } from "../../bench/lib/results.ts";
import { parseArgs } from "../../bench/run.ts";
import { BENCH_FILTER, rssFlatness, verdict } from "../../bench/scenarios/end-to-end.ts";
import { compileFilter, filterProblems } from "../../src/domain/filter.ts";
import { tempDir } from "../helpers/hookrelay.ts";

const ROOT = resolve(import.meta.dir, "../..");
const out = tempDir("hookrelay-bench-smoke-");
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("bun run bench", () => {
  it("--filter's filter is valid, has 10 conditions and passes every bench event (the deliveries stay the same)", () => {
    expect(filterProblems(BENCH_FILTER)).toEqual([]);
    const conditions = JSON.stringify(BENCH_FILTER).match(/"\$(eq|neq|gt|gte|lt|lte|in|nin|exists|regex)"|"id":/g);
    expect(conditions).toHaveLength(10);
    const passes = compileFilter(BENCH_FILTER);
    for (const type of ["bench.e2e", "bench.fan", "bench.iso.7", "bench.origin.3"])
      for (const n of [0, 1, 987_654]) expect(passes({ id: `w_${n}`, type, source: "bench", data: { n, sent_at_ms: 1_796_461_200_123.5 }, timestamp: "2026-12-05T10:00:00.000Z" })).toBe(true);
  });

  it("parses the scenario and options, and names a bad one", () => {
    expect(parseArgs(["ingest", "--rates=200,400", "--seconds=2", "--no-readme"])).toMatchObject({ scenario: "ingest", rates: [200, 400], seconds: 2, readme: false });
    expect(() => parseArgs(["nope"])).toThrow("scenario nope");
    expect(() => parseArgs(["--rates=0"])).toThrow("--rates=0");
    expect(() => parseArgs(["--bogus"])).toThrow("unknown option --bogus");
    // Each end-to-end scenario has issue 5's defaults; production always runs the production roles.
    expect(parseArgs(["embedded"])).toMatchObject({ rates: [10_000], seconds: 60, deployment: "embedded", drainSeconds: 60, deliveryP99Ms: 500 });
    expect(parseArgs(["production"])).toMatchObject({ rates: [10_000], seconds: 60, deployment: "production" });
    expect(parseArgs(["fan-out"])).toMatchObject({ rates: [1000] });
    expect(parseArgs(["isolation", "--baseline-p99-ms=40.5"])).toMatchObject({ rates: [5000], baselineP99Ms: 40.5 });
    expect(parseArgs(["origins"])).toMatchObject({ rates: [5000] });
    expect(parseArgs(["soak", "--strict"])).toMatchObject({ rates: [5000], seconds: 600, warmupSeconds: 120, sampleSeconds: 10, strict: true });
    expect(parseArgs(["fan-out", "--deployment=production"]).deployment).toBe("production");
    expect(() => parseArgs(["embedded", "--deployment=production"])).toThrow("run scenario production instead");
    expect(() => parseArgs(["soak", "--deployment=cloud"])).toThrow("--deployment=cloud");
    expect(parseArgs(["embedded", "--filter"])).toMatchObject({ filter: true, label: "10-condition filter" });
    expect(() => parseArgs(["ingest", "--filter"])).toThrow("--filter: only the end-to-end scenarios");
    // A plain run writes to the ignored bench/out and leaves bench/README.md alone; --record writes the tracked results and tables.
    expect(parseArgs(["embedded"])).toMatchObject({ out: OUT_DIR, readme: false, receiver: "http" });
    expect(parseArgs(["embedded", "--record"])).toMatchObject({ out: RESULTS_DIR, readme: true });
    expect(parseArgs(["embedded", "--record", "--no-readme"])).toMatchObject({ out: RESULTS_DIR, readme: false });
    expect(parseArgs(["embedded", "--record", "--out=/tmp/elsewhere"])).toMatchObject({ out: "/tmp/elsewhere", readme: true });
    expect(parseArgs(["embedded", "--receiver=https"]).receiver).toBe("https");
    expect(() => parseArgs(["embedded", "--receiver=ftp"])).toThrow("--receiver=ftp: expected http or https");
  });

  it("judges a soak by the peak RSS of each minute after warm-up, and isolation against 2× the baseline", () => {
    const step = (p99: number) => ({ delivery: { bad_signatures: 0, signatures_checked: 5, lost: 0, expected: 10, healthy_latency_ms: { p50: 1, p99, max: p99 }, connections: 3 } }) as never;
    const soak = { scenario: "soak" as const, p99BoundMs: 25, deliveryP99BoundMs: 500, warmupSeconds: 120 };
    // A sample every 10 s; `minute(m)` gives the six samples of one minute.
    const samples = (rss: number[]) => rss.map((rss_mib, i) => ({ t_s: i * 10, rss_mib }));
    const warmUp = Array(12).fill(500); // t < 120 s: ignored
    const sawtooth = [150, 165, 180, 158, 172, 180];
    // A GC sawtooth (150–180 MiB within every minute) is flat: the peaks are all 180.
    expect(verdict(soak, [step(5)], null, samples([...warmUp, ...sawtooth, ...sawtooth, ...sawtooth])).pass).toBe(true);
    // Growth: the same sawtooth, 11% higher in the last minute.
    const grown = sawtooth.map((v) => v * 1.11);
    expect(verdict(soak, [step(5)], null, samples([...warmUp, ...sawtooth, ...sawtooth, ...grown])).pass).toBe(false);
    // A slow climb of 2% a minute for six minutes is growth too.
    const climbing = Array.from({ length: 6 }, (_, m) => sawtooth.map((v) => v * 1.02 ** m)).flat();
    expect(verdict(soak, [step(5)], null, samples([...warmUp, ...climbing])).pass).toBe(false);
    // Less than two whole minutes after the warm-up: no judgement, a fail.
    expect(verdict(soak, [step(5)], null, samples([...warmUp, ...sawtooth, 150, 150])).pass).toBe(false);
    expect(rssFlatness(samples([...warmUp, ...sawtooth, ...sawtooth, 400]), 120)).toMatchObject({ peaks: [180, 180], peakRatio: 1, min: 150, max: 400 });
    const isolation = { ...soak, scenario: "isolation" as const };
    expect(verdict(isolation, [step(80)], 40, []).pass).toBe(true);
    expect(verdict(isolation, [step(81)], 40, []).pass).toBe(false);
    expect(verdict(isolation, [step(1)], null, []).pass).toBe(false);
  });

  it("tables the recorded results: production's CPU with its backends, the latest refusal cost and each deployment's CPU at rest on lines of their own", () => {
    const table = resultsTable(RESULTS_DIR);
    const production = table.split("\n").filter((line) => line.startsWith("| production |"));
    expect(production.length).toBeGreaterThan(0);
    for (const row of production) expect(row).toMatch(/\| [\d.]+ \+ [\d.]+ backends \|/);
    for (const deployment of ["embedded", "production"])
      expect(table).toMatch(new RegExp(`^At rest, ${deployment} \\(\`bench/at-rest\\.ts\`, \\d{4}-\\d\\d-\\d\\d, .*\\): [\\d.]+% of a core over \\d+ s \\(.+\\)`, "m"));
    expect(table).toMatch(/^At rest, production .*\(gateway [\d.]+, ingest [\d.]+, dispatcher [\d.]+, retry [\d.]+, observability [\d.]+, registry [\d.]+\); bound 2%: (PASS|FAIL)\.$/m);
    expect(table).toMatch(/^A refused event post \(`bench\/shed-cost\.ts`, \d{4}-\d\d-\d\d, .*\): [\d.]+ CPU-µs against [\d.]+ for a raw Bun\.serve request in the same run, [\d.]+× \(bound 2×\)\.$/m);
    // The README's tables are what the recorded files say.
    expect(readFileSync(join(ROOT, "bench/README.md"), "utf8")).toContain(table);
  });

  it("runs scenario (a) at 200/s for 2 s and writes a results JSON with sane numbers", async () => {
    const readmeBefore = readFileSync(join(ROOT, "bench/README.md"), "utf8");
    const proc = Bun.spawn(["bun", "run", "bench", "ingest", "--rates=200", "--seconds=2", "--ceiling-seconds=1", `--out=${out}`, "--no-readme"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    // A missing vegeta or wrk that could not be installed ends here, with the runner's reason.
    if (code !== 0) throw new Error(`bun run bench exited ${code}:\n${stdout}\n${stderr}`);
    const files = readdirSync(out).filter((f) => /^ingest-.*\.json$/.test(f));
    expect(files).toHaveLength(1);
    const result = JSON.parse(readFileSync(join(out, files[0]!), "utf8")) as Result;

    expect(result.scenario).toBe("ingest");
    expect(result.machine.cores).toBeGreaterThan(0);
    expect(result.versions.vegeta).toMatch(/^v12\./);
    expect(result.versions.bun).toBe(Bun.version);
    expect(result.ceilings.serve_post.per_s).toBeGreaterThan(1000);
    expect(result.ceilings.fetch_post.per_s).toBeGreaterThan(1000);
    expect(result.ceilings.serve_post.cpu_us_per_request).toBeGreaterThan(0);
    expect(result.idle_cpu_us_per_s).toBeGreaterThanOrEqual(0);
    expect(result.steps).toHaveLength(1);
    const [step] = result.steps;
    expect(step!.offered_per_s).toBe(200);
    expect(step!.requests).toBe(400);
    // Every request carries a new event id, so each is a 202 (a duplicate would be a 200).
    expect(step!.status_codes).toEqual({ "202": 400 });
    expect(step!.accepted).toBe(400);
    expect(step!.not_sent).toBe(0);
    expect(step!.lost).toBe(0);
    expect(step!.success_ratio).toBe(1);
    expect(step!.latency_ms.p50).toBeGreaterThan(0);
    expect(step!.latency_ms.p50).toBeLessThanOrEqual(step!.latency_ms.p99);
    expect(step!.latency_ms.p99).toBeLessThanOrEqual(step!.latency_ms.max);
    expect(step!.latency_ms.max).toBeLessThan(30_000);
    expect(step!.cpu_us_per_event).toBeGreaterThan(0);
    expect(step!.rss_mib).toBeGreaterThan(10);
    expect(result.peak_rss_mib).toBeGreaterThanOrEqual(step!.rss_mib);
    expect(step!.ratios.accepted_to_serve_ceiling).toBeCloseTo(step!.accepted_per_s / result.ceilings.serve_post.per_s, 2);
    // --no-readme leaves the committed table alone.
    expect(readFileSync(join(ROOT, "bench/README.md"), "utf8")).toBe(readmeBefore);
    expect(existsSync(join(ROOT, "bench/results", files[0]!))).toBe(false);
  }, 90_000);
});

describe.each(["http", "https"])("bun run bench embedded --receiver=%s", (receiver) => {
  it("delivers every event of 200/s × 2 s once, correctly signed, and records ingest→delivery latency and CPU against the same run's ceilings", async () => {
    const dir = join(out, receiver);
    const proc = Bun.spawn(["bun", "run", "bench", "embedded", "--rates=200", "--seconds=2", "--ceiling-seconds=1", "--sig-every=10", `--receiver=${receiver}`, `--out=${dir}`, "--strict"], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const files = existsSync(dir) ? readdirSync(dir).filter((f) => /^embedded-.*\.json$/.test(f)) : [];
    if (files.length !== 1) throw new Error(`bun run bench embedded exited ${code} with ${files.length} results files:\n${stdout}\n${stderr}`);
    const result = JSON.parse(readFileSync(join(dir, files[0]!), "utf8")) as Result;
    expect(result.receiver).toBe(receiver);
    const d = result.steps[0]!.delivery!;
    // Counts first: a slow machine may miss a latency bound (--strict exits 1), but never lose or duplicate.
    expect({ expected: d.expected, distinct: d.distinct, lost: d.lost, duplicates: d.duplicates, bad: d.bad_signatures }).toEqual({ expected: 400, distinct: 400, lost: 0, duplicates: 0, bad: 0 });
    expect(d.signatures_checked).toBeGreaterThanOrEqual(30);
    expect(result.steps[0]!.status_codes).toEqual({ "202": 400 });
    expect(d.healthy_latency_ms.p50).toBeGreaterThan(0);
    expect(d.healthy_latency_ms.p50).toBeLessThanOrEqual(d.healthy_latency_ms.p99);
    expect(d.healthy_latency_ms.p99).toBeLessThanOrEqual(d.healthy_latency_ms.max);
    expect(d.healthy_latency_ms.max).toBeLessThan(30_000);
    expect(d.connections).toBeGreaterThan(0);
    expect(d.cpu_us_per_delivery).toBeGreaterThan(0);
    const rawCpu = result.ceilings.serve_post.cpu_us_per_request + result.ceilings.fetch_post.cpu_us_per_request;
    expect(d.ratios.cpu_ratio_serve_plus_fetch).toBeCloseTo(d.cpu_us_per_delivery / rawCpu, 1);
    // The same two raw requests at the step's own rate cost more each than saturated ones.
    expect(d.same_rate!.serve_us).toBeGreaterThan(result.ceilings.serve_post.cpu_us_per_request);
    expect(d.same_rate!.fetch_us).toBeGreaterThan(0);
    expect(d.ratios.cpu_ratio_same_rate).toBeCloseTo(d.cpu_us_per_delivery / (d.same_rate!.serve_us + d.same_rate!.fetch_us), 1);
    expect(stdout).toContain(`× a raw Bun.serve request + raw ${receiver} fetch`);
    expect(result.deployment).toBe("embedded");
    expect(result.processes).toEqual(["all"]);
    expect(result.peak_rss_mib_by_process?.all).toBeGreaterThan(10);
    expect(result.verdict?.checks.map((c) => c.check)).toEqual(["no bad signatures", "zero lost", "ingest p99 ≤ 25 ms", "ingest→delivery p99 ≤ 500 ms"]);
    expect(stdout).toMatch(/bench: embedded (PASS|FAIL) \(/);
    expect(code).toBe(result.verdict!.pass ? 0 : 1);
    if (code !== 0 && code !== 1) throw new Error(`bun run bench embedded exited ${code}:\n${stdout}\n${stderr}`);
  }, 90_000);
});
