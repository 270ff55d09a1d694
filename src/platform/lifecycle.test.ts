import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "hookrelay-lifecycle-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * A process with `exitOnUncaught`: a client socket that let go of its listeners (as postgres.js
 * does on close) reports a reset, then, when `then` says so, an error
 * nothing catches is thrown.
 */
async function run(then: "nothing" | "throw"): Promise<{ code: number; lines: { level: string; msg: string; err?: { code?: string } }[] }> {
  const script = join(dir, `${then}.ts`);
  writeFileSync(
    script,
    `import net from "node:net";
import { Lifecycle } from ${JSON.stringify(resolve(import.meta.dir, "lifecycle.ts"))};
import { createLogger } from ${JSON.stringify(resolve(import.meta.dir, "logger.ts"))};
new Lifecycle(createLogger("info")).exitOnUncaught();
const server = net.createServer((s) => s.on("error", () => {}));
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const client = net.connect(server.address().port, "127.0.0.1");
await new Promise((r) => client.on("connect", r));
client.removeAllListeners();
// How a stream reports a failed read: destroy(err), 'error' emitted; the ingest role died of this one.
client.destroy(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104, syscall: "read" }));
await Bun.sleep(50);
if (${JSON.stringify(then)} === "throw") setTimeout(() => { throw new Error("a bug"); }, 0);
await Bun.sleep(300);
process.exit(0);
`,
  );
  const proc = Bun.spawn(["bun", script], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  const lines = out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  return { code, lines };
}

describe("uncaught exceptions", () => {
  it("a reset reported by a socket nobody listens to any more is logged, and the process goes on", async () => {
    const { code, lines } = await run("nothing");
    expect(code).toBe(0);
    const reset = lines.find((l) => l.msg === "a closed connection reported a reset; ignored");
    expect(reset?.err?.code).toMatch(/^(ECONNRESET|EPIPE)$/);
  });

  it("any other ends the process with exit 1, logged as fatal", async () => {
    const { code, lines } = await run("throw");
    expect(code).toBe(1);
    expect(lines.some((l) => l.level === "fatal" && l.msg === "uncaught exception; exiting")).toBe(true);
  });
});
