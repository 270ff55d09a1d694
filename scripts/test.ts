/**
 * @module `bun run test`: runs `bun test` over the repo with the JUnit reporter, shows the
 * usual console output, and ends with one line `N passed, N failed` (CI reads it).
 *
 * Extra arguments go to `bun test` unchanged: `bun run test tests/e2e`, `bun run test -t retries`.
 */
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { useServices } from "./services/index.ts";

const ROOT = resolve(import.meta.dir, "..");
const REPORT = join(".test-report", "junit.xml");
/** What Bun prints when an error escapes every test: a file that failed to load, a late throw. */
const BETWEEN_TESTS = /^#\s*Unhandled error between tests/;
/** What Bun prints (and exits 1) when no test file matches. */
const NO_TESTS = /^(No tests found!|The following filters did not match any test files)/;

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/**
 * Counts Bun's JUnit XML: every `<testcase>`; failed when it holds `<failure` or `<error`,
 * skipped (todo too) when it holds `<skipped`, passed otherwise.
 */
export function countJUnit(xml: string): Counts {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  // Attribute values are XML-escaped, so neither `>` nor `</testcase>` occurs inside one.
  for (const match of xml.matchAll(/<testcase\b[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const body = match[1] ?? "";
    if (/<(failure|error)\b/.test(body)) counts.failed++;
    else if (/<skipped\b/.test(body)) counts.skipped++;
    else counts.passed++;
  }
  return counts;
}

/**
 * services:up for the run: starts PostgreSQL, Redis and Kafka on 127.0.0.1 unless they are up
 * (scripts/services/) and hands their URLs to the tests under test-only names,
 * so that the embedded end-to-end tests never switch backends by accident. The teardown stops
 * only what this run started, and not while another test run still uses it.
 * `HOOKRELAY_SERVICES=off` starts nothing (the tests needing the servers then get no URLs).
 */
async function servicesUp(): Promise<{ env: Record<string, string>; down: () => Promise<void> }> {
  if (process.env.HOOKRELAY_SERVICES === "off") {
    console.log("services: HOOKRELAY_SERVICES=off, starting none");
    return { env: {}, down: async () => {} };
  }
  const began = performance.now();
  const lease = await useServices((line) => console.log(line));
  const took = ((performance.now() - began) / 1000).toFixed(1);
  console.log(lease.started.length > 0 ? `services: ${lease.started.join(", ")} started in ${took} s` : `services: already up (${took} s)`);
  return {
    env: {
      HOOKRELAY_TEST_DATABASE_URL: lease.env.DATABASE_URL,
      HOOKRELAY_TEST_REDIS_URL: lease.env.REDIS_URL,
      HOOKRELAY_TEST_KAFKA_BROKERS: lease.env.KAFKA_BROKERS,
    },
    down: lease.release,
  };
}

/** Bun's colour codes (ESC [ … m) taken out, so a line can be matched as plain text. */
const COLOUR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, "g");
const withoutColours = (line: string) => line.replace(COLOUR, "").trim();

/** Copies a child's stream to ours, calling `onLine` with each line stripped of colour codes. */
async function relay(stream: ReadableStream<Uint8Array>, out: NodeJS.WriteStream, onLine: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  for await (const chunk of stream) {
    out.write(chunk);
    pending += decoder.decode(chunk, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) onLine(withoutColours(line));
  }
  if (pending) onLine(withoutColours(pending));
}

/**
 * Biome's `ci`: the formatter's verdict and the linter's errors over the tree (biome.json), no
 * writes. Counted as one check in the summary. `bunx biome check --write .` fixes what it can.
 */
function lintPasses(): boolean {
  console.log("lint: biome ci .");
  const run = Bun.spawnSync(["bun", "x", "biome", "ci", "--colors=off", "."], { cwd: ROOT, stdout: "inherit", stderr: "inherit" });
  if (run.exitCode !== 0) console.error(`\nlint: biome ci failed (exit ${run.exitCode}); \`bunx biome check --write .\` fixes formatting and safe lint fixes`);
  return run.exitCode === 0;
}

async function main(args: string[]): Promise<number> {
  process.chdir(ROOT);
  rmSync(REPORT, { force: true });
  mkdirSync(dirname(REPORT), { recursive: true });
  // The whole run checks the tree's form too; a run of chosen tests does not.
  const lint = args.length === 0 ? (lintPasses() ? { passed: 1, failed: 0 } : { passed: 0, failed: 1 }) : { passed: 0, failed: 0 };

  let services: Awaited<ReturnType<typeof servicesUp>>;
  try {
    services = await servicesUp();
  } catch (err) {
    // No servers, no run: count it as one failure so the summary line still says so.
    console.error(`\nservices: ${(err as Error).message}`);
    console.log(`${lint.passed} passed, ${lint.failed + 1} failed`);
    return 1;
  }
  let exitCode: number;
  let betweenTests = 0;
  let noTests = false;
  try {
    // --timeout: tests over real processes, sockets and servers wait on real time; a helper's
    // setDefaultTimeout only reaches the first file that loads it (modules load once per run).
    const child = Bun.spawn(["bun", "test", "--timeout=60000", "--reporter=junit", `--reporter-outfile=${REPORT}`, ...args], {
      cwd: ROOT,
      // Piped output loses Bun's colours; keep them when a person is watching.
      env: { ...process.env, ...(process.stdout.isTTY ? { FORCE_COLOR: "1" } : {}), ...services.env },
      stdin: "inherit",
      stdout: "pipe",
      stderr: "pipe",
    });
    const count = (line: string) => {
      if (BETWEEN_TESTS.test(line)) betweenTests++;
      if (NO_TESTS.test(line)) noTests = true;
    };
    await Promise.all([relay(child.stdout, process.stdout, count), relay(child.stderr, process.stderr, count)]);
    exitCode = (await child.exited) ?? 1;
  } finally {
    await services.down();
  }

  let counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  try {
    counts = countJUnit(readFileSync(REPORT, "utf8"));
  } catch (err) {
    if (!noTests) console.error(`\nno JUnit report at ${REPORT} (${(err as Error).message}); bun test exited ${exitCode}`);
  }
  // Such errors (a test file that does not load) have no <testcase>; Bun counts them as failures, so do we.
  if (betweenTests > 0) console.error(`\n${betweenTests} unhandled error(s) outside any test counted as failed (see "Unhandled error between tests" above)`);
  const failed = counts.failed + betweenTests + lint.failed;
  if (noTests) console.error("\nbun test found no test files to run");
  else if (exitCode !== 0 && failed === 0) console.error(`\nbun test exited ${exitCode}`);
  console.log(`${counts.passed + lint.passed} passed, ${failed} failed`);
  return failed > 0 || exitCode !== 0 ? 1 : 0;
}

if (import.meta.main) process.exit(await main(process.argv.slice(2)));
