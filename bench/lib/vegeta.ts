/**
 * @module vegeta's constant-rate attack (open model) with one unique event per request: a JSON
 * targets file with exactly rate × duration generated bodies, the attack, and its JSON report.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface AttackReport {
  requests: number;
  /** Requests per second actually sent. */
  rate: number;
  /** Successful responses per second over the attack plus the wait for the last answers. */
  throughput: number;
  success: number;
  status_codes: Record<string, number>;
  errors: string[];
  latencies_ms: { p50: number; p90: number; p99: number; max: number; mean: number };
  duration_s: number;
}

export interface Attack {
  url: string;
  token: string;
  rate: number;
  seconds: number;
  /** Builds the JSON body of request number `n` (unique ids are the caller's job). */
  body(n: number): unknown;
}

/** Writes the targets file for `attack`: one POST per line, each with its own body. */
export function writeTargets(path: string, attack: Attack): number {
  const count = attack.rate * attack.seconds;
  const header = { "Content-Type": ["application/json"], Authorization: [`Bearer ${attack.token}`] };
  const lines: string[] = new Array(count);
  for (let n = 0; n < count; n++) {
    const body = Buffer.from(JSON.stringify(attack.body(n))).toString("base64");
    lines[n] = JSON.stringify({ method: "POST", url: attack.url, body, header });
  }
  writeFileSync(path, `${lines.join("\n")}\n`);
  return count;
}

const ns = (value: number | undefined) => Math.round(((value ?? Number.NaN) / 1e6) * 100) / 100;

/** Runs `vegeta attack` at a constant rate for the attack's duration, then `vegeta report -type=json`. */
export async function runAttack(vegeta: string, dir: string, attack: Attack): Promise<AttackReport> {
  const targets = join(dir, `targets-${attack.rate}.json`);
  const results = join(dir, `results-${attack.rate}.bin`);
  writeTargets(targets, attack);
  const proc = Bun.spawn([vegeta, "attack", "-format=json", `-targets=${targets}`, `-rate=${attack.rate}/1s`, `-duration=${attack.seconds}s`, "-timeout=30s", `-output=${results}`], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`vegeta attack exited ${code}: ${err}`);
  return report(vegeta, results);
}

function parseReport(json: string): AttackReport {
  const r = JSON.parse(json);
  return {
    requests: r.requests,
    rate: Math.round(r.rate * 10) / 10,
    throughput: Math.round(r.throughput * 10) / 10,
    success: r.success,
    status_codes: r.status_codes ?? {},
    errors: (r.errors ?? []).slice(0, 10),
    latencies_ms: { p50: ns(r.latencies["50th"]), p90: ns(r.latencies["90th"]), p99: ns(r.latencies["99th"]), max: ns(r.latencies.max), mean: ns(r.latencies.mean) },
    duration_s: Math.round(((r.duration + r.wait) / 1e9) * 100) / 100,
  };
}

export interface PacedAttack {
  url: string;
  /** Request n carries tokens[n % tokens.length] (one customer each: embedded shards own customers). */
  tokens: string[];
  rate: number;
  seconds: number;
  /** The JSON body of request `n`, sent at wall-clock `sentAtMs` (ms, sub-ms precision). */
  body(n: number, sentAtMs: number): string;
  /** At most this many connections (vegeta's -max-connections); unset: as many as the rate needs. */
  maxConnections?: number;
}

/** Ahead of its due time a target line is written, so vegeta never waits on stdin (which it would count as latency). */
const LEAD_MS = 5;
const TICK_MS = 2;

/**
 * vegeta's constant-rate attack reading targets lazily from stdin, with this process writing
 * line n when the clock reaches start + n/rate − LEAD_MS (small batches per timer tick), so the
 * send time in each body is real: at most a few ms before vegeta sends it (plus vegeta's start-up
 * for the whole run, measured as `lead_ms` from the first result's timestamp).
 */
export async function runPacedAttack(vegeta: string, dir: string, name: string, attack: PacedAttack): Promise<AttackReport & { lead_ms: number }> {
  const results = join(dir, `results-${name}.bin`);
  const proc = Bun.spawn(
    // The duration has slack: vegeta starts its clock before this writer's, and ends at the last
    // target (stdin closed after exactly rate × seconds lines) rather than cutting the final ones.
    [
      vegeta,
      "attack",
      "-lazy",
      "-format=json",
      ...(attack.maxConnections ? [`-max-connections=${attack.maxConnections}`] : []),
      `-rate=${attack.rate}/1s`,
      `-duration=${attack.seconds + 5}s`,
      "-timeout=30s",
      `-output=${results}`,
    ],
    { stdin: "pipe", stdout: "pipe", stderr: "pipe" },
  );
  const total = attack.rate * attack.seconds;
  const prefixes = attack.tokens.map((token) => `{"method":"POST","url":${JSON.stringify(attack.url)},"header":{"Content-Type":["application/json"],"Authorization":["Bearer ${token}"]},"body":"`);
  const clock = () => performance.timeOrigin + performance.now();
  const start = clock();
  let firstSentAt = start;
  let written = 0;
  try {
    while (written < total) {
      if (proc.exitCode !== null) break;
      const due = Math.min(total, Math.floor(((clock() - start + LEAD_MS) / 1000) * attack.rate) + 1);
      if (due > written) {
        let chunk = "";
        for (; written < due; written++) {
          const now = clock();
          if (written === 0) firstSentAt = now;
          chunk += `${prefixes[written % prefixes.length]}${Buffer.from(attack.body(written, now)).toString("base64")}"}\n`;
        }
        try {
          proc.stdin.write(chunk);
          await proc.stdin.flush();
        } catch (err) {
          // vegeta has gone (its error is reported below); the lines it never read are not sent.
          if ((err as { code?: string }).code === "EPIPE") break;
          throw err;
        }
      }
      await Bun.sleep(TICK_MS);
    }
  } finally {
    await Promise.resolve(proc.stdin.end()).catch(() => {});
  }
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`vegeta attack exited ${code}: ${err}`);
  return { ...withoutEndOfTargets(await report(vegeta, results), written), lead_ms: await firstLead(vegeta, results, firstSentAt) };
}

const END_OF_TARGETS = "no targets to attack";

/**
 * vegeta's workers that find stdin at its end each record a result with status 0 and the error
 * "no targets to attack": not requests. Those beyond the `written` targets are taken out.
 */
function withoutEndOfTargets(r: AttackReport, written: number): AttackReport {
  const excess = r.requests - written;
  if (excess <= 0 || !r.errors.includes(END_OF_TARGETS)) return r;
  const zero = (r.status_codes["0"] ?? 0) - excess;
  const status_codes = Object.fromEntries(
    Object.entries(r.status_codes)
      .filter(([c]) => c !== "0" || zero > 0)
      .map(([c, n]) => [c, c === "0" ? zero : n]),
  );
  const errors = zero <= 0 ? r.errors.filter((e) => e !== END_OF_TARGETS) : r.errors;
  return { ...r, requests: written, status_codes, errors };
}

/** How long before vegeta's first request its body's send time was taken (ms). */
async function firstLead(vegeta: string, results: string, firstSentAt: number): Promise<number> {
  // Only the first results are needed: read a few KiB of the CSV, then stop the encoder.
  const proc = Bun.spawn([vegeta, "encode", "-to=csv", results], { stdout: "pipe", stderr: "ignore" });
  let text = "";
  for await (const chunk of proc.stdout) {
    text += new TextDecoder().decode(chunk);
    if (text.length > 64 * 1024) break;
  }
  proc.kill();
  await proc.exited;
  // timestamp (unix ns),code,latency,bytes out,bytes in,error,body,attack,seq,...
  let first = Number.POSITIVE_INFINITY;
  for (const line of text.split("\n").slice(0, 100)) {
    const ns = Number(line.slice(0, line.indexOf(",")));
    if (ns > 0) first = Math.min(first, ns / 1e6);
  }
  return Number.isFinite(first) ? Math.round((first - firstSentAt) * 100) / 100 : Number.NaN;
}

async function report(vegeta: string, results: string): Promise<AttackReport> {
  const run = Bun.spawnSync([vegeta, "report", "-type=json", results], { stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`vegeta report exited ${run.exitCode}: ${run.stderr.toString()}`);
  return parseReport(run.stdout.toString());
}
