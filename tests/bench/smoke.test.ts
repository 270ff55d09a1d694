/**
 * @module A short smoke run of `bun run bench ingest` (200/s for 2 s, 1 s ceilings) so the runner
 * cannot rot: it must install or find vegeta and wrk (failing loudly when it cannot), and write a
 * results file with sane numbers. The real benchmark is not part of `bun run test`.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Result } from "../../bench/lib/results.ts";
import { parseArgs } from "../../bench/run.ts";
import { tempDir } from "../helpers/hookrelay.ts";

const ROOT = resolve(import.meta.dir, "../..");
const out = tempDir("hookrelay-bench-smoke-");
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe("bun run bench", () => {
  it("parses the scenario and options, and names a bad one", () => {
    expect(parseArgs(["ingest", "--rates=200,400", "--seconds=2", "--no-readme"])).toMatchObject({ scenario: "ingest", rates: [200, 400], seconds: 2, readme: false });
    expect(() => parseArgs(["nope"])).toThrow("scenario nope");
    expect(() => parseArgs(["--rates=0"])).toThrow("--rates=0");
    expect(() => parseArgs(["--bogus"])).toThrow("unknown option --bogus");
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
