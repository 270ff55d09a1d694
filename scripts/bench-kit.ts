/**
 * @module `bun run bench:kit [--out=dist] [--xz=9]`: the benchmark as a kit for a machine with no
 * network, no bun and no Go (bench/KIT.md). Writes <out>/bench-kit/ and <out>/bench-kit.tar.xz:
 * the compiled hookrelay (which also runs the bundled runner and helper scripts as bun, with
 * BUN_BE_BUN=1), vegeta, wrk with the shared libraries a minimal machine may lack, and run.sh.
 */
import { chmodSync, copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { ensureVegeta, ensureWrk, toolVersions } from "../bench/lib/tools.ts";
import { inlineWasm } from "./build.ts";

const ROOT = resolve(import.meta.dir, "..");
/** The carry limit of the machine the kit is for; the tarball must stay under it. */
const CARRY_LIMIT = 64 * 2 ** 20;
/** glibc's own libraries: the target has them (hookrelay, i.e. Bun, needs glibc too), and a copied libc would not match its ld.so. */
const SYSTEM_LIBS = /^(linux-vdso|ld-linux|libc|libm|libpthread|libdl|librt|libresolv)\.so/;

function sh(cmd: string[], cwd = ROOT): string {
  const run = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  if (run.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${run.exitCode}:\n${run.stdout}${run.stderr}`);
  return run.stdout.toString().trim();
}

/** The helper scripts the runner spawns, read from its spawnBenchScript calls so a new one is never left out. */
export function benchScripts(): string[] {
  const names = new Set<string>();
  const glob = new Bun.Glob("**/*.ts");
  for (const file of glob.scanSync(join(ROOT, "bench"))) {
    const text = readFileSync(join(ROOT, "bench", file), "utf8");
    for (const m of text.matchAll(/spawnBenchScript(?:<[\s\S]*?>)?\(\s*"([\w.-]+\.ts)"/g)) names.add(m[1]!);
  }
  if (names.size === 0) throw new Error('bench-kit: found no spawnBenchScript("<script>.ts") call under bench/; update benchScripts()');
  return [...names].sort();
}

/** Copies wrk: a static one as it is, a dynamic one to libexec/ with its non-glibc libraries in lib/ and a bin/wrk wrapper. */
function copyWrk(wrk: string, kit: string): string[] {
  const head = readFileSync(wrk).subarray(0, 4);
  if (head.toString("latin1") !== "\x7fELF") throw new Error(`bench-kit: ${wrk} is not an ELF binary (a wrapper?); put the real wrk first on PATH`);
  const ldd = Bun.spawnSync(["ldd", wrk], { stdout: "pipe", stderr: "pipe" });
  const libs = [...ldd.stdout.toString().matchAll(/^\s*(\S+) => (\/\S+)/gm)].map((m) => ({ soname: m[1]!, path: m[2]! }));
  if (libs.length === 0) {
    copyFileSync(wrk, join(kit, "bin/wrk"));
    return [];
  }
  mkdirSync(join(kit, "lib"), { recursive: true });
  mkdirSync(join(kit, "libexec"), { recursive: true });
  copyFileSync(wrk, join(kit, "libexec/wrk"));
  const copied = libs.filter((l) => !SYSTEM_LIBS.test(l.soname));
  for (const lib of copied) copyFileSync(lib.path, join(kit, "lib", lib.soname));
  writeFileSync(
    join(kit, "bin/wrk"),
    `#!/bin/sh
# wrk from ${wrk}, with the shared libraries it needs beyond glibc in ../lib (bench/KIT.md).
here=$(dirname "$0")
LD_LIBRARY_PATH="$here/../lib\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" exec "$here/../libexec/wrk" "$@"
`,
  );
  chmodSync(join(kit, "bin/wrk"), 0o755);
  return copied.map((l) => l.soname);
}

/** hookrelay's version as the results name it: package version, commit, and whether the code differs from it. */
function buildName(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  const commit = sh(["git", "rev-parse", "--short", "HEAD"]);
  const dirty = sh(["git", "status", "--porcelain", "--", "src", "bench", "tests/helpers", "package.json", "bun.lock"]) !== "";
  return `${pkg.version} (${commit}${dirty ? "-dirty" : ""}, bench kit)`;
}

function runScript(version: string): string {
  return `#!/bin/sh
# hookrelay bench kit (KIT.md): \`./run.sh <scenario> [options of bun run bench]\` with this kit's
# binaries only: no bun, Go or network. Results go to results/ beside this script.
set -eu
KIT=$(cd "$(dirname "$0")" && pwd -P)
# BENCH_CMD is split on spaces.
case "$KIT" in *" "*) echo "run.sh: the kit's path has a space ($KIT); move the kit" >&2; exit 2 ;; esac
for arg in "$@"; do
  case "$arg" in production | --deployment=production)
    echo "run.sh: the kit runs hookrelay embedded only (no PostgreSQL, Redis or Kafka here); see KIT.md" >&2
    exit 2 ;;
  esac
done
mkdir -p "$KIT/results"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
{
  echo "machine: \${BENCH_MACHINE:-unnamed (set BENCH_MACHINE=...)}"
  echo "host: $(hostname 2>/dev/null || cat /proc/sys/kernel/hostname)"
  echo "kernel: $(uname -srm)"
  echo "cores: $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo unknown)"
  grep -m1 '^model name' /proc/cpuinfo || true
  grep -m1 '^MemTotal' /proc/meminfo || true
  echo "command: ./run.sh $*"
  echo "hookrelay: ${version}"
} >"$KIT/results/machine-$stamp.txt"
export PATH="$KIT/bin:$PATH"
# The hookrelay binary acts as bun for the runner and the helper scripts it spawns (inherited)...
export BUN_BE_BUN=1
export BENCH_SCRIPTS_DIR="$KIT/bench"
# ...but not for hookrelay under benchmark.
export BENCH_CMD="env -u BUN_BE_BUN $KIT/bin/hookrelay all"
export BENCH_HOOKRELAY_VERSION="${version}"
exec "$KIT/bin/hookrelay" "$KIT/bench/run.js" --out="$KIT/results" --no-readme "$@"
`;
}

function parseArgs(argv: string[]): { out: string; xz: number } {
  const options = { out: join(ROOT, "dist"), xz: 9 };
  for (const arg of argv) {
    const [name, value = ""] = arg.replace(/^--/, "").split("=", 2) as [string, string?];
    if (name === "out") options.out = resolve(value);
    else if (name === "xz" && /^[0-9]$/.test(value)) options.xz = Number(value);
    else throw new Error(`bench-kit: unknown or bad option ${arg} (expected --out=DIR, --xz=0..9)`);
  }
  return options;
}

/** Builds the kit into `<out>/bench-kit` and `<out>/bench-kit.tar.xz`; returns both paths and the tarball's size. */
export async function buildKit(o: { out: string; xz: number }, log: (line: string) => void = console.log): Promise<{ dir: string; tarball: string; bytes: number }> {
  const kit = join(o.out, "bench-kit");
  rmSync(kit, { recursive: true, force: true });
  for (const d of ["bin", "bench", "results"]) mkdirSync(join(kit, d), { recursive: true });

  log("bench-kit: bun run build");
  sh([process.execPath, "scripts/build.ts"]);
  copyFileSync(join(ROOT, "dist/hookrelay"), join(kit, "bin/hookrelay"));
  chmodSync(join(kit, "bin/hookrelay"), 0o755);

  const scripts = benchScripts();
  log(`bench-kit: bundling bench/run.ts and ${scripts.join(", ")}`);
  const bundle = await Bun.build({
    entrypoints: ["run.ts", ...scripts].map((s) => join(ROOT, "bench", s)),
    root: join(ROOT, "bench"),
    outdir: join(kit, "bench"),
    target: "bun",
    naming: "[name].js",
    plugins: [inlineWasm],
  });
  if (!bundle.success) throw new AggregateError(bundle.logs, "bench-kit: bundling the runner failed");
  for (const file of readdirSync(join(kit, "bench")))
    if (readFileSync(join(kit, "bench", file), "utf8").includes("native.wasm")) throw new Error(`bench-kit: ${file} still reads native.wasm from disk`);

  const vegeta = ensureVegeta(log);
  const wrk = ensureWrk(log);
  copyFileSync(vegeta, join(kit, "bin/vegeta"));
  chmodSync(join(kit, "bin/vegeta"), 0o755);
  const libs = copyWrk(wrk, kit);
  // The kit's own copies must run (wrk's wrapper with every copied library) before the kit leaves this machine.
  const tools = toolVersions(join(kit, "bin/vegeta"), join(kit, "bin/wrk"));
  if (tools.vegeta === "unknown" || tools.wrk === "unknown") throw new Error(`bench-kit: the kit's vegeta or wrk does not name its version (${JSON.stringify(tools)})`);

  const version = buildName();
  writeFileSync(join(kit, "run.sh"), runScript(version));
  chmodSync(join(kit, "run.sh"), 0o755);
  copyFileSync(join(ROOT, "bench/KIT.md"), join(kit, "KIT.md"));
  const manifest = { hookrelay: version, bun: Bun.version, ...tools, wrk_libs: libs, built_at: new Date().toISOString(), built_on: sh(["uname", "-srm"]) };
  writeFileSync(join(kit, "kit.json"), `${JSON.stringify(manifest, null, 2)}\n`);

  const tarball = join(o.out, "bench-kit.tar.xz");
  log(`bench-kit: tar | xz -${o.xz} (the -9 of a real kit takes about two minutes on one core)`);
  rmSync(tarball, { force: true });
  sh(["tar", "-C", o.out, "-I", `xz -${o.xz} -T1`, "-cf", tarball, basename(kit)]);
  const bytes = statSync(tarball).size;
  const mib = (bytes / 2 ** 20).toFixed(1);
  if (bytes >= CARRY_LIMIT) throw new Error(`bench-kit: ${tarball} is ${mib} MiB, over the 64 MiB carry limit`);
  log(`bench-kit: ${kit} and ${tarball} (${mib} MiB; hookrelay ${version}, vegeta ${manifest.vegeta}, wrk ${manifest.wrk}${libs.length ? ` with ${libs.join(", ")}` : ""})`);
  return { dir: kit, tarball, bytes };
}

if (import.meta.main) await buildKit(parseArgs(process.argv.slice(2)));
