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
  const proc = Bun.spawn(
    [vegeta, "attack", "-format=json", `-targets=${targets}`, `-rate=${attack.rate}/1s`, `-duration=${attack.seconds}s`, "-timeout=30s", `-output=${results}`],
    { stdout: "pipe", stderr: "pipe" },
  );
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`vegeta attack exited ${code}: ${err}`);
  const report = Bun.spawnSync([vegeta, "report", "-type=json", results], { stdout: "pipe", stderr: "pipe" });
  if (report.exitCode !== 0) throw new Error(`vegeta report exited ${report.exitCode}: ${report.stderr.toString()}`);
  const r = JSON.parse(report.stdout.toString());
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
