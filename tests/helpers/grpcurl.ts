/**
 * @module grpcurl for tests: found on PATH or in Go's bin directory, else installed once
 * with `go install` (kept in GOBIN or GOPATH/bin, so later runs start at once).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";

const PACKAGE = "github.com/fullstorydev/grpcurl/cmd/grpcurl@latest";

async function run(cmd: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn(cmd, { stdout: "pipe", stderr: "pipe", env: process.env });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}

async function goBinDir(): Promise<string> {
  const env = await run(["go", "env", "GOBIN", "GOPATH"]);
  if (env.code !== 0) throw new Error(`grpcurl is not installed and \`go env\` failed (is Go installed?): ${env.stderr}`);
  const [gobin, gopath] = env.stdout.split("\n").map((l) => l.trim());
  return gobin || join(gopath!.split(":")[0]!, "bin");
}

let found: Promise<string> | undefined;

/** The grpcurl binary's path, installing it on first use when absent (a minute on a fresh machine). */
export function grpcurlPath(): Promise<string> {
  found ??= (async () => {
    const onPath = Bun.which("grpcurl");
    if (onPath) return onPath;
    const binary = join(await goBinDir(), "grpcurl");
    if (existsSync(binary)) return binary;
    const began = performance.now();
    const install = await run(["go", "install", PACKAGE]);
    if (install.code !== 0 || !existsSync(binary)) throw new Error(`go install ${PACKAGE} failed (exit ${install.code}): ${install.stderr}`);
    console.log(`grpcurl: installed ${binary} in ${((performance.now() - began) / 1000).toFixed(1)} s`);
    return binary;
  })();
  return found;
}

export interface GrpcurlResult {
  /** grpcurl's exit status: 0, or 64 + the gRPC code for an error status. */
  exit: number;
  /** The gRPC status name as grpcurl prints it ("OK", "InvalidArgument", "NotFound", ...). */
  code: string;
  message: string;
  /** The response, parsed (protojson: lowerCamelCase field names). */
  body: any;
  stdout: string;
  stderr: string;
}

/**
 * Runs grpcurl against a plaintext server: `args` follow the address (`["list"]`,
 * `["describe", symbol]` or `[method]`). Never blocks the event loop (the server may be in
 * this process).
 */
export async function grpcurl(address: string, args: string[], options: { data?: unknown; token?: string; maxTimeSeconds?: number } = {}): Promise<GrpcurlResult> {
  const cmd = [await grpcurlPath(), "-plaintext", "-max-time", String(options.maxTimeSeconds ?? 20)];
  if (options.token !== undefined) cmd.push("-H", `authorization: Bearer ${options.token}`);
  if (options.data !== undefined) cmd.push("-d", JSON.stringify(options.data));
  cmd.push(address, ...args);
  const { code: exit, stdout, stderr } = await run(cmd);
  const code = exit === 0 ? "OK" : (/Code: (\w+)/.exec(stderr)?.[1] ?? `exit ${exit}`);
  const message = /Message: (.*)/.exec(stderr)?.[1] ?? stderr.trim();
  let body: unknown;
  try {
    body = stdout.trim() ? JSON.parse(stdout) : undefined;
  } catch {}
  return { exit, code, message, body, stdout, stderr };
}
