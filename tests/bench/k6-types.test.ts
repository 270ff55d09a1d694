/** @module The k6 scripts in bench/k6 type-check against @types/k6 and each scenario keeps its executor, thresholds and login. */
import { describe, expect, it } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
const K6 = join(ROOT, "bench/k6");
const SCENARIOS = ["ingest.js", "end-to-end.js", "fan-out.js", "isolation.js", "origins.js", "soak.js"];

describe("bench/k6", () => {
  it("type-checks with @types/k6 (tsc -p bench/k6/tsconfig.json)", () => {
    const run = Bun.spawnSync(["bun", "x", "tsc", "-p", join(K6, "tsconfig.json"), "--noEmit"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    const output = `${run.stdout.toString()}${run.stderr.toString()}`;
    if (run.exitCode !== 0) throw new Error(`tsc found errors in bench/k6 (exit ${run.exitCode}):\n${output}`);
    expect(run.exitCode).toBe(0);
  }, 60_000);

  it("shares constant-arrival-rate, thresholds on p99, failures and dropped iterations, unique ids and the login", () => {
    const lib = readFileSync(join(K6, "lib.js"), "utf8");
    for (const needle of ['"constant-arrival-rate"', "p(99)<", "http_req_failed", "dropped_iterations", "iterationInTest", "/auth/login", "K6_ADMIN_PASSWORD"]) expect(lib).toContain(needle);
  });

  it.each(SCENARIOS)("%s runs a constant-rate scenario with the shared thresholds and logs in during setup()", (file) => {
    const source = readFileSync(join(K6, file), "utf8");
    expect(source).toContain("// @ts-check");
    expect(source).toMatch(/constantRate\(num\("RATE", [\d_]+\)/);
    expect(source).toContain("thresholds: thresholds(");
    expect(source).toMatch(/export function setup\(\) \{\s+[^}]*login\(\)/);
    expect(source).toContain("sendEvent(");
  });
});
