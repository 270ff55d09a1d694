/**
 * @module `bun run bench:kit` (bench/KIT.md): builds the kit (xz -0, for speed), unpacks it in a
 * temp dir and runs `./run.sh embedded` at 200/s for 2 s with only the kit and a few shell tools on
 * PATH. Where this user may make namespaces, it runs with loopback as the only network, and with
 * the source tree, bun and Go hidden, so nothing can be fetched or taken from them.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import type { Result } from "../../bench/lib/results.ts";
import { tempDir } from "../helpers/hookrelay.ts";

const ROOT = resolve(import.meta.dir, "../..");
const work = tempDir("hookrelay-bench-kit-");
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What run.sh itself calls; everything else must come from the kit. */
const SHELL_TOOLS = ["env", "dirname", "mkdir", "date", "hostname", "uname", "getconf", "grep", "cat"];

/** bun's and Go's files on this machine, to hide from the kit's run. */
function bunAndGo(): { files: string[]; dirs: string[] } {
  const which = (name: string) =>
    Bun.spawnSync(["sh", "-c", `which -a ${name}`], { stdout: "pipe" })
      .stdout.toString()
      .split("\n")
      .filter(Boolean);
  const files = [...new Set([...which("bun"), process.execPath].map((p) => realpathSync(p)))];
  const dirs = which("go").map((p) => dirname(dirname(realpathSync(p))));
  if (existsSync(join(homedir(), "go"))) dirs.push(join(homedir(), "go"));
  return { files, dirs: [...new Set(dirs)] };
}

function namespacesAllowed(): boolean {
  return Bun.spawnSync(["unshare", "-mn", "true"], { stdout: "ignore", stderr: "ignore" }).exitCode === 0;
}

describe("bun run bench:kit", () => {
  it("builds a kit under 64 MiB whose run.sh benchmarks hookrelay with no bun, Go, network or source tree", async () => {
    const out = join(work, "out");
    const built = Bun.spawnSync([process.execPath, "run", "bench:kit", `--out=${out}`, "--xz=0"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    if (built.exitCode !== 0) throw new Error(`bun run bench:kit exited ${built.exitCode}:\n${built.stdout}\n${built.stderr}`);
    // xz -0 is the largest it gets; `bun run bench:kit` (xz -9) is smaller still.
    const bytes = statSync(join(out, "bench-kit.tar.xz")).size;
    console.log(`kit.test: bench-kit.tar.xz at xz -0 is ${(bytes / 2 ** 20).toFixed(1)} MiB`);
    expect(bytes).toBeLessThan(64 * 2 ** 20);

    const unpacked = join(work, "unpacked");
    mkdirSync(unpacked);
    const untar = Bun.spawnSync(["tar", "-C", unpacked, "-xJf", join(out, "bench-kit.tar.xz")], { stderr: "pipe" });
    expect(untar.exitCode).toBe(0);
    const kit = join(unpacked, "bench-kit");
    const tools = join(work, "tools");
    mkdirSync(tools);
    for (const t of SHELL_TOOLS) {
      const path = Bun.which(t);
      if (path) symlinkSync(path, join(tools, t));
    }
    const env = { PATH: tools, HOME: work, BENCH_MACHINE: "kit.test" };

    const refused = Bun.spawnSync([join(kit, "run.sh"), "production"], { cwd: kit, env, stderr: "pipe" });
    expect({ code: refused.exitCode, err: refused.stderr.toString() }).toMatchObject({ code: 2, err: expect.stringContaining("embedded only") });

    const args = ["embedded", "--rates=200", "--seconds=2", "--ceiling-seconds=1", "--sig-every=10"];
    const hidden = bunAndGo();
    const isolated = namespacesAllowed();
    // In private namespaces: only loopback, up; the source tree and Go under empty tmpfs; bun's executable replaced by /dev/null.
    const prelude = [
      "set -e",
      "ip link set lo up",
      `mount -t tmpfs none '${ROOT}'`,
      ...hidden.dirs.map((d) => `mount -t tmpfs none '${d}'`),
      ...hidden.files.map((f) => `mount --bind /dev/null '${f}'`),
      `if '${hidden.files[0]}' --version >/dev/null 2>&1; then echo 'bun still runs' >&2; exit 3; fi`,
      `exec env -i PATH='${tools}' HOME='${work}' BENCH_MACHINE=kit.test ./run.sh ${args.join(" ")}`,
    ].join("\n");
    console.log(
      isolated
        ? `kit.test: run.sh in private network and mount namespaces, hiding ${[ROOT, ...hidden.dirs, ...hidden.files].join(", ")}`
        : "kit.test: unshare not allowed here: run.sh with the kit and shell tools on PATH only, network and source tree visible",
    );
    const proc = isolated
      ? Bun.spawn(["unshare", "-mn", "sh", "-c", prelude], { cwd: kit, stdout: "pipe", stderr: "pipe" })
      : Bun.spawn([join(kit, "run.sh"), ...args], { cwd: kit, env, stdout: "pipe", stderr: "pipe" });
    const [code, stdout, stderr] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    const results = readdirSync(join(kit, "results"));
    const files = results.filter((f) => /^embedded-.*\.json$/.test(f));
    if (files.length !== 1) throw new Error(`run.sh exited ${code} with ${files.length} results files:\n${stdout}\n${stderr}`);
    const result = JSON.parse(readFileSync(join(kit, "results", files[0]!), "utf8")) as Result;
    const d = result.steps[0]!.delivery!;
    expect({ expected: d.expected, distinct: d.distinct, lost: d.lost, duplicates: d.duplicates, bad: d.bad_signatures }).toEqual({ expected: 400, distinct: 400, lost: 0, duplicates: 0, bad: 0 });
    expect(result.steps[0]!.status_codes).toEqual({ "202": 400 });
    expect(result.ceilings.serve_post.per_s).toBeGreaterThan(1000);
    expect(result.ceilings.fetch_post.per_s).toBeGreaterThan(1000);
    // The kit's own binaries, named: hookrelay (without BUN_BE_BUN), vegeta and wrk from the kit.
    expect(result.command).toEqual(["env", "-u", "BUN_BE_BUN", realpathSync(join(kit, "bin/hookrelay")), "all"]);
    expect(result.versions).toMatchObject({ hookrelay: expect.stringContaining("bench kit"), bun: Bun.version, vegeta: expect.stringMatching(/^v12\./), wrk: expect.not.stringMatching(/^unknown$/) });
    expect(result.machine.cores).toBeGreaterThan(0);
    const machine = results.find((f) => f.startsWith("machine-"));
    expect(machine && readFileSync(join(kit, "results", machine), "utf8")).toContain("machine: kit.test");
    // Without --strict a missed latency bound (a slow, loaded machine) still exits 0.
    expect(code).toBe(0);
  }, 240_000);
});
