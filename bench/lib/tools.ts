/** @module The load tools of our own benchmarks (bench/README.md): vegeta from `go install`, wrk from apt; installed when absent. */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export const VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0";

function run(cmd: string[]): { ok: boolean; out: string } {
  try {
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe" });
    return { ok: r.exitCode === 0, out: `${r.stdout.toString()}${r.stderr.toString()}`.trim() };
  } catch (err) {
    return { ok: false, out: (err as Error).message };
  }
}

function goBinDir(): string | null {
  const gobin = run(["go", "env", "GOBIN"]);
  if (gobin.ok && gobin.out) return gobin.out;
  const gopath = run(["go", "env", "GOPATH"]);
  return gopath.ok && gopath.out ? join(gopath.out.split(":")[0]!, "bin") : null;
}

/** The vegeta binary: on PATH, in Go's bin directory, or installed there now with `go install`. */
export function ensureVegeta(log: (line: string) => void = () => {}): string {
  const onPath = Bun.which("vegeta");
  if (onPath) return onPath;
  const candidates = [goBinDir(), join(homedir(), "go", "bin")].filter((d): d is string => d !== null).map((d) => join(d, "vegeta"));
  const found = candidates.find((p) => existsSync(p));
  if (found) return found;
  if (!Bun.which("go")) throw new Error(`vegeta is not installed and Go is not on PATH to install it (go install ${VEGETA_MODULE})`);
  log(`bench: installing vegeta (go install ${VEGETA_MODULE})`);
  const install = run(["go", "install", VEGETA_MODULE]);
  if (!install.ok) throw new Error(`go install ${VEGETA_MODULE} failed:\n${install.out}`);
  const installed = candidates.find((p) => existsSync(p));
  if (!installed) throw new Error(`go install ${VEGETA_MODULE} succeeded but no vegeta binary in ${candidates.join(" or ")}`);
  return installed;
}

/** The wrk binary: on PATH, or installed now with apt-get (needs root). */
export function ensureWrk(log: (line: string) => void = () => {}): string {
  const onPath = Bun.which("wrk");
  if (onPath) return onPath;
  if (process.getuid?.() !== 0) throw new Error("wrk is not installed and this user is not root to `apt-get install -y wrk`; install wrk first");
  if (!Bun.which("apt-get")) throw new Error("wrk is not installed and apt-get is not available to install it");
  log("bench: installing wrk (apt-get install -y wrk)");
  let install = run(["apt-get", "install", "-y", "-q", "wrk"]);
  if (!install.ok) {
    run(["apt-get", "update", "-q"]);
    install = run(["apt-get", "install", "-y", "-q", "wrk"]);
  }
  const path = Bun.which("wrk");
  if (!install.ok || !path) throw new Error(`apt-get install -y wrk failed:\n${install.out}`);
  return path;
}

/** Versions for the results file: vegeta's module version (go install leaves -version empty), wrk's banner. */
export function toolVersions(vegeta: string, wrk: string): { vegeta: string; wrk: string } {
  // Without Go (the bench kit, bench/KIT.md) the same module line is read from the binary's build info.
  const mod = (run(["go", "version", "-m", vegeta]).out.match(/\tmod\s+\S+\s+(v\S+)/) ?? readFileSync(vegeta, "latin1").match(/\nmod\tgithub\.com\/tsenart\/vegeta\S*\t(v[^\t\n]+)/))?.[1];
  const wrkBanner = run([wrk, "-v"])
    .out.split("\n")[0]
    ?.match(/^wrk\s+(\S+)/)?.[1];
  return { vegeta: mod ?? "unknown", wrk: wrkBanner ?? "unknown" };
}
