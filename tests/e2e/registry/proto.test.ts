// The .proto files stay lint-clean and the checked-in generated code stays what they generate.
import { describe, expect, it } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { tempDir } from "../../helpers/hookrelay.ts";

const ROOT = join(import.meta.dir, "../../..");
const BUF = join(ROOT, "node_modules/.bin/buf");

async function buf(args: string[]): Promise<{ code: number; out: string }> {
  // protoc-gen-es is found on PATH, as `bun run proto:gen` finds it.
  const proc = Bun.spawn([BUF, ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env: { ...process.env, PATH: `${join(ROOT, "node_modules/.bin")}:${process.env.PATH}` } });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: stdout + stderr };
}

function files(dir: string): Record<string, string> {
  const all: Record<string, string> = {};
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true }))
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      all[relative(dir, path)] = readFileSync(path, "utf8");
    }
  return all;
}

describe("proto/", () => {
  it("passes buf lint", async () => {
    expect(await buf(["lint"])).toEqual({ code: 0, out: "" });
  });

  it("generates exactly the checked-in src/gen (run `bun run proto:gen` after changing a .proto)", async () => {
    const out = tempDir("hookrelay-proto-gen-");
    const generated = await buf(["generate", "--output", out]);
    expect(generated).toEqual({ code: 0, out: "" });
    const fresh = files(join(out, "src/gen"));
    expect(Object.keys(fresh).sort()).toEqual(["grpc/health/v1/health_pb.ts", "hookrelay/webhook/v1/registry_pb.ts"]);
    expect(fresh).toEqual(files(join(ROOT, "src/gen")));
  });
});
