// docker/Dockerfile without Docker: its build stage's steps run here, in a fresh directory holding
// what its COPY lines copy, and the binary they produce is the one the runtime stage copies and
// runs, reports the version and passes its own health probe against live roles.
import { afterAll, describe, expect, it } from "bun:test";
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, relative } from "node:path";
import { ROLES } from "../../src/cli/compose.ts";
import { VERSION } from "../../src/cli/version.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { portsAndEnv } from "../helpers/process.ts";
import { copyPaths, type Instruction, parseDockerfile } from "./lib/dockerfile.ts";
import { configReads, ROOT, readText } from "./lib/repo.ts";

const FILE = "docker/Dockerfile";
const dockerfile = parseDockerfile(readText(FILE));
const runtime = dockerfile.stages.at(-1)!;
const fromBuild = runtime.instructions.filter((i) => i.keyword === "COPY" && i.flags.from);
const build = dockerfile.stages.find((s) => s.name === fromBuild[0]?.flags.from)!;
const entrypoint = runtime.instructions.find((i) => i.keyword === "ENTRYPOINT")?.exec;
const ignore = readText(".dockerignore")
  .split("\n")
  .map((l) => l.trim())
  .filter((l) => l && !l.startsWith("#"));
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** Whether .dockerignore leaves `path` (relative to the build context) out, as Docker matches it (from the context root). */
function ignored(path: string): boolean {
  const parts = path.split("/");
  return ignore.some((pattern) => parts.some((_, n) => new Bun.Glob(pattern.replace(/^\/|\/$/g, "")).match(parts.slice(0, n + 1).join("/"))));
}

/** `${NAME}` and `$NAME` from ARG and ENV values. */
function expand(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (m, a, b) => vars[a ?? b] ?? m);
}

interface BuildResult {
  root: string;
  /** The container path of the stage's last WORKDIR. */
  workdir: string;
  seconds: number;
  log: string[];
}

/** Runs the build stage's instructions with `root` standing for the container's `/`. */
async function runBuildStage(): Promise<BuildResult> {
  const root = mkdtempSync(join(tmpdir(), "hookrelay-docker-build-"));
  dirs.push(root);
  const began = performance.now();
  const vars: Record<string, string> = { ...dockerfile.globalArgs };
  const env: Record<string, string> = {
    PATH: Bun.env.PATH ?? "",
    // Like a docker build: no cache from earlier installs, every package fetched from the registry.
    HOME: join(root, "home"),
    BUN_INSTALL_CACHE_DIR: join(root, "bun-cache"),
  };
  let workdir = "/";
  const log: string[] = [];
  const at = (path: string) => join(root, posix.resolve(workdir, path));
  for (const instruction of build.instructions) {
    const where = `${FILE}:${instruction.line} ${instruction.keyword}`;
    switch (instruction.keyword) {
      case "WORKDIR":
        workdir = posix.resolve(workdir, expand(instruction.args, vars));
        mkdirSync(join(root, workdir), { recursive: true });
        break;
      case "ARG": {
        const [name, value] = instruction.args.split("=");
        vars[name!.trim()] = value?.trim() ?? vars[name!.trim()] ?? "";
        break;
      }
      case "ENV": {
        const m = /^([A-Za-z_][A-Za-z0-9_]*)(?:=|\s+)(.*)$/.exec(instruction.args);
        if (!m) throw new Error(`${where}: cannot read ${instruction.args}`);
        vars[m[1]!] = env[m[1]!] = expand(m[2]!.replace(/^"(.*)"$/, "$1"), vars);
        break;
      }
      case "COPY": {
        if (instruction.flags.from) throw new Error(`${where}: COPY --from inside the build stage is not simulated`);
        const { sources, destination } = copyPaths(instruction);
        const dest = expand(destination, vars);
        for (const source of sources.map((s) => expand(s, vars))) {
          const from = join(ROOT, source);
          if (!existsSync(from)) throw new Error(`${where}: ${source} does not exist in the repository`);
          const to = dest.endsWith("/") || sources.length > 1 ? join(at(dest), posix.basename(source)) : at(dest);
          mkdirSync(join(to, ".."), { recursive: true });
          cpSync(from, to, { recursive: true, filter: (path) => !ignored(relative(ROOT, path)) || relative(ROOT, path) === "" });
        }
        break;
      }
      case "RUN": {
        if (Object.keys(instruction.flags).length) throw new Error(`${where}: RUN ${Object.keys(instruction.flags).join(", ")} flags are not simulated`);
        const command = instruction.exec ?? ["sh", "-c", expand(instruction.args, vars)];
        const step = performance.now();
        const proc = Bun.spawn(command, { cwd: join(root, workdir), env, stdout: "pipe", stderr: "pipe" });
        const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        log.push(`${where} ${instruction.args}: exit ${code} in ${((performance.now() - step) / 1000).toFixed(1)} s`);
        if (code !== 0) throw new Error(`${where} ${instruction.args} failed (exit ${code}):\n${out}\n${err}`);
        break;
      }
      case "USER":
      case "EXPOSE":
      case "LABEL":
        break;
      default:
        throw new Error(`${where}: not simulated by this test; extend it`);
    }
  }
  return { root, workdir, seconds: (performance.now() - began) / 1000, log };
}

let built: Promise<BuildResult> | undefined;
const buildOnce = () => (built ??= runBuildStage());

describe("docker/Dockerfile", () => {
  it("has a build stage the runtime stage copies from, and COPY sources .dockerignore keeps", () => {
    expect(dockerfile.stages.length).toBe(2);
    expect(build).toBeDefined();
    expect(build.image).toMatch(/^oven\/bun:/);
    expect(expand(build.image, dockerfile.globalArgs)).toBe(`oven/bun:${Bun.version}`);
    for (const instruction of build.instructions.filter((i) => i.keyword === "COPY"))
      for (const source of copyPaths(instruction).sources)
        expect({ line: instruction.line, source, exists: existsSync(join(ROOT, source)), ignored: ignored(source) }).toEqual({ line: instruction.line, source, exists: true, ignored: false });
  });

  it("runs the binary as its entrypoint, as uid 10001, with no shell steps in the runtime image", () => {
    expect(entrypoint).toEqual(["/usr/local/bin/hookrelay"]);
    const binaryCopy = fromBuild.find((i) => copyPaths(i).destination === entrypoint![0]);
    expect(binaryCopy).toBeDefined();
    expect(runtime.instructions.findLast((i) => i.keyword === "USER")!.args).toBe("10001:10001");
    expect(runtime.instructions.find((i) => i.keyword === "CMD")!.exec).toEqual(["all"]);
    // distroless: no shell to run anything with.
    expect(runtime.instructions.filter((i) => i.keyword === "RUN" || i.keyword === "HEALTHCHECK").map((i: Instruction) => i.line)).toEqual([]);
    for (const i of runtime.instructions.filter((i) => i.keyword === "ENV")) expect({ env: i.args, read: configReads(i.args.split(/[= ]/)[0]!) }).toEqual({ env: i.args, read: true });
    const defaults = parseConfig({ env: {} }).server;
    const exposed = runtime.instructions.filter((i) => i.keyword === "EXPOSE").flatMap((i) => i.args.split(/\s+/).map(Number));
    expect(exposed).toEqual(ROLES.map((r) => defaults[`${r}_port`]));
  });

  it("builds dist/hookrelay with the build stage's own steps, and that binary is what the runtime stage copies", async () => {
    const { root, workdir, seconds, log } = await buildOnce();
    console.log(`${FILE}: build stage outside Docker in ${seconds.toFixed(1)} s\n  ${log.join("\n  ")}`);
    const binaryCopy = fromBuild.find((i) => copyPaths(i).destination === entrypoint![0])!;
    const source = copyPaths(binaryCopy).sources[0]!;
    // `bun run build` writes dist/hookrelay (scripts/build.ts) under the stage's WORKDIR.
    expect(source).toBe(posix.join(workdir, "dist/hookrelay"));
    expect(readText("scripts/build.ts")).toContain('outfile: "dist/hookrelay"');
    for (const copy of fromBuild)
      for (const s of copyPaths(copy).sources) expect({ line: copy.line, source: s, exists: existsSync(join(root, s)) }).toEqual({ line: copy.line, source: s, exists: true });
    const binary = join(root, source);
    expect(statSync(binary).mode & 0o111).not.toBe(0);
    const version = Bun.spawnSync([binary, "version"], { env: { PATH: "/usr/bin:/bin" } });
    expect(version.exitCode).toBe(0);
    expect(version.stdout.toString().trim()).toBe(`hookrelay ${VERSION} (bun ${Bun.version})`);
  }, 300_000);

  it("the built binary's probe is the health check compose and Kubernetes run: healthy roles exit 0, a closed port 1", async () => {
    const { root } = await buildOnce();
    const binary = join(root, copyPaths(fromBuild.find((i) => copyPaths(i).destination === entrypoint![0])!).sources[0]!);
    const hr = await startInProcess();
    // Spawned without blocking: the roles answering the probe run in this very process.
    const run = async (args: string[], env: Record<string, string>) => {
      const proc = Bun.spawn([binary, ...args], { cwd: root, env, stdout: "pipe", stderr: "pipe" });
      const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
      return { code, out: out.trim(), err: err.trim() };
    };
    try {
      const port = (address: string) => address.split(":").at(-1)!;
      const env = { PATH: "/usr/bin:/bin", HOOKRELAY_SERVER_HOST: "0.0.0.0", HOOKRELAY_SERVER_GATEWAY_PORT: port(hr.gateway), HOOKRELAY_SERVER_REGISTRY_PORT: port(hr.registry) };
      for (const role of ["gateway", "registry"])
        expect({ role, ...(await run(["probe", role], env)) }).toEqual({ role, code: 0, out: expect.stringMatching(new RegExp(`^${role}: healthy`)) as unknown as string, err: "" });
      const closed = await run(["probe", "ingest"], { ...env, HOOKRELAY_SERVER_INGEST_PORT: "1" });
      expect(closed.code).toBe(1);
      expect(closed.err).toStartWith("ingest: cannot reach http://127.0.0.1:1/health");
    } finally {
      await hr.stop();
    }
  }, 300_000);

  it("the built binary carries the pages it serves: the dashboard on the observability port, the API docs on the gateway's", async () => {
    const { root } = await buildOnce();
    const binary = join(root, copyPaths(fromBuild.find((i) => copyPaths(i).destination === entrypoint![0])!).sources[0]!);
    const { ports, env } = portsAndEnv();
    // Out of the build directory, so nothing can be read from the source tree.
    const proc = Bun.spawn([binary, "all"], { cwd: env.HOOKRELAY_DATA_DIR, env: { PATH: "/usr/bin:/bin", ...env }, stdout: "ignore", stderr: "pipe" });
    try {
      await waitFor(
        "the built binary's observability role",
        () =>
          fetch(`http://127.0.0.1:${ports.observability}/health`).then(
            (r) => r.ok,
            () => false,
          ),
        20_000,
        50,
      );
      const dashboard = await fetch(`http://127.0.0.1:${ports.observability}/`);
      expect(dashboard.status).toBe(200);
      expect(dashboard.headers.get("content-type")).toStartWith("text/html");
      expect(await dashboard.text()).toBe(await Bun.file(join(import.meta.dir, "../../src/services/observability/dashboard.html")).text());
      const docs = await fetch(`http://127.0.0.1:${ports.gateway}/docs`);
      expect(docs.status).toBe(200);
      expect(await docs.text()).toContain('<script src="/docs/scalar.js">');
      expect((await fetch(`http://127.0.0.1:${ports.gateway}/openapi.json`)).status).toBe(200);
      // Scalar's bundle, embedded in the binary (it lives in node_modules, which the image has not).
      const scalar = await fetch(`http://127.0.0.1:${ports.gateway}/docs/scalar.js`);
      expect(scalar.status).toBe(200);
      expect(await scalar.text()).toBe(await Bun.file(join(import.meta.dir, "../../node_modules/@scalar/api-reference/dist/browser/standalone.js")).text());
    } finally {
      proc.kill();
      await proc.exited;
    }
  }, 300_000);
});
