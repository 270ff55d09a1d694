// `hookrelay probe <role>`, the health check of the image (which has no curl): exit 0 when the role
// on its configured port is healthy (HTTP /health 200; the registry: gRPC health SERVING), exit 1
// with one line saying why otherwise.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { ROLES } from "../../src/cli/compose.ts";
import { probeHost, probeRole } from "../../src/cli/probe.ts";
import { parseConfig } from "../../src/platform/config.ts";
import { selfSigned } from "../helpers/certificates.ts";
import { freePort, type Instance, startInProcess, tempDir } from "../helpers/hookrelay.ts";
import { ROOT } from "./lib/repo.ts";

const portVar = (role: string) => `HOOKRELAY_SERVER_${role.toUpperCase()}_PORT`;
const portOf = (address: string) => Number(address.split(":").at(-1));

async function probeCli(args: string[], env: Record<string, string>): Promise<{ code: number; out: string; err: string }> {
  const proc = Bun.spawn(["bun", join(ROOT, "src/cli/main.ts"), "probe", ...args], {
    cwd: ROOT,
    env: { PATH: Bun.env.PATH ?? "", HOME: Bun.env.HOME ?? "", ...env },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, out: out.trim(), err: err.trim() };
}

describe("hookrelay probe", () => {
  let hr: Instance;
  let env: Record<string, string>;

  beforeAll(async () => {
    hr = await startInProcess();
    const ports = { gateway: hr.gateway, registry: hr.registry, ingest: hr.ingest, dispatcher: hr.dispatcher, retry: hr.retry, observability: hr.observability };
    // As in a container: listening on every address, the probe asks 127.0.0.1.
    env = { HOOKRELAY_SERVER_HOST: "0.0.0.0", ...Object.fromEntries(Object.entries(ports).map(([role, address]) => [portVar(role), String(portOf(address))])) };
  });
  afterAll(() => hr.stop());

  it("exits 0 for each healthy role on its configured port, the registry through gRPC health", async () => {
    for (const role of ROLES) {
      const result = await probeCli([role], env);
      const how = role === "registry" ? "grpc.health.v1.Health/Check answered SERVING" : "/health answered 200";
      expect({ role, code: result.code, out: result.out, err: result.err }).toEqual({
        role,
        code: 0,
        out: expect.stringMatching(new RegExp(`^${role}: healthy \\(.*${how.replace(/[./]/g, "\\$&")}\\)$`)) as unknown as string,
        err: "",
      });
    }
    const all = await probeCli(["all"], env);
    expect(all.code).toBe(0);
    expect(all.out.split("; ").length).toBe(ROLES.length);
  });

  it("exits 1 with one line when nothing listens on the role's port", async () => {
    const port = freePort();
    const http = await probeCli(["ingest"], { HOOKRELAY_SERVER_HOST: "127.0.0.1", [portVar("ingest")]: String(port) });
    expect(http.code).toBe(1);
    expect(http.err).toStartWith(`ingest: cannot reach http://127.0.0.1:${port}/health: `);
    expect(http.err.split("\n")).toHaveLength(1);
    const grpc = await probeCli(["registry"], { HOOKRELAY_SERVER_HOST: "127.0.0.1", [portVar("registry")]: String(port) });
    expect(grpc.code).toBe(1);
    expect(grpc.err).toStartWith(`registry: cannot check grpc://127.0.0.1:${port}: `);
    expect(grpc.err.split("\n")).toHaveLength(1);
    // `all` fails when one role fails, and names it.
    const all = await probeCli(["all"], { ...env, [portVar("retry")]: String(port) });
    expect(all.code).toBe(1);
    expect(all.err).toStartWith(`retry: cannot reach http://127.0.0.1:${port}/health`);
  });

  it("exits 1 naming the failing dependency when /health answers 503", async () => {
    const server = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: () => Response.json({ status: "unavailable", role: "dispatcher", failing: ["event_log: connect ECONNREFUSED 10.0.0.9:9092"] }, { status: 503 }),
    });
    try {
      const result = await probeCli(["dispatcher"], { HOOKRELAY_SERVER_HOST: "127.0.0.1", [portVar("dispatcher")]: String(server.port) });
      expect(result).toEqual({
        code: 1,
        out: "",
        err: `dispatcher: unhealthy (http://127.0.0.1:${server.port}/health answered 503): event_log: connect ECONNREFUSED 10.0.0.9:9092`,
      });
    } finally {
      server.stop(true);
    }
  });

  it("gives up after its timeout when the role does not answer", async () => {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Promise<Response>(() => {}) });
    try {
      const config = parseConfig({ env: { HOOKRELAY_SERVER_HOST: "127.0.0.1", [portVar("retry")]: String(server.port) } });
      const began = performance.now();
      const result = await probeRole(config, "retry", 300);
      expect(result).toEqual({ ok: false, reason: `retry: no answer from http://127.0.0.1:${server.port}/health within 300 ms` });
      expect(performance.now() - began).toBeLessThan(2000);
    } finally {
      server.stop(true);
    }
  });

  it("refuses a missing or unknown role, listing the roles", async () => {
    for (const args of [[], ["ingester"]]) {
      const result = await probeCli(args, {});
      expect(result.code).toBe(1);
      expect(result.err).toBe(`probe: name a role to check (${ROLES.join(", ")}) or all; got '${args[0] ?? ""}'`);
    }
  });

  it("asks loopback for a wildcard listen address and the address itself otherwise", () => {
    expect(probeHost("0.0.0.0")).toBe("127.0.0.1");
    expect(probeHost("")).toBe("127.0.0.1");
    expect(probeHost("::")).toBe("[::1]");
    expect(probeHost("10.1.2.3")).toBe("10.1.2.3");
    expect(probeHost("fd00::5")).toBe("[fd00::5]");
  });
});

describe("hookrelay probe over TLS", () => {
  const dir = tempDir("hookrelay-probe-tls-");
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  let hr: Instance;

  beforeAll(async () => {
    // A self-signed certificate for another name: the probe checks health, not the certificate's name.
    selfSigned(dir, "server", "hookrelay.example");
    hr = await startInProcess({ HOOKRELAY_SERVER_TLS_CERT_FILE: cert, HOOKRELAY_SERVER_TLS_KEY_FILE: key });
  });
  afterAll(async () => {
    await hr?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("probes HTTPS roles and the TLS registry with the configured certificate", async () => {
    const tls = { HOOKRELAY_SERVER_TLS_CERT_FILE: cert, HOOKRELAY_SERVER_TLS_KEY_FILE: key, HOOKRELAY_SERVER_HOST: "127.0.0.1" };
    const gateway = await probeCli(["gateway"], { ...tls, [portVar("gateway")]: String(portOf(hr.gateway)) });
    expect(gateway).toEqual({ code: 0, out: `gateway: healthy (https://127.0.0.1:${portOf(hr.gateway)}/health answered 200)`, err: "" });
    const registry = await probeCli(["registry"], { ...tls, [portVar("registry")]: String(portOf(hr.registry)) });
    expect(registry).toEqual({ code: 0, out: `registry: healthy (grpc://127.0.0.1:${portOf(hr.registry)} grpc.health.v1.Health/Check answered SERVING)`, err: "" });
  });
});
