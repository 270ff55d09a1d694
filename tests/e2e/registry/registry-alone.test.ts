// `hookrelay registry` on its own: serves, refuses private targets by default, drains on
// SIGTERM; and a registry whose backend is down says so (health and UNAVAILABLE).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Subprocess } from "bun";
import { MemoryRateLimiter } from "../../../src/adapters/memory/rate-limiter.ts";
import { ConflictError, UnavailableError } from "../../../src/domain/errors.ts";
import type { Store } from "../../../src/domain/ports.ts";
import { createLogger } from "../../../src/platform/logger.ts";
import { RateGate } from "../../../src/platform/rate-gate.ts";
import { startRegistry } from "../../../src/services/registry/server.ts";
import { grpcurl, grpcurlPath } from "../../helpers/grpcurl.ts";
import { waitFor } from "../../helpers/hookrelay.ts";
import { portsAndEnv } from "../../helpers/process.ts";
import { hs256Tokens } from "../../helpers/tokens.ts";

const SERVICE = "hookrelay.webhook.v1.WebhookRegistry";
const JWT_SECRET = "registry-alone-secret-at-least-32-characters";
const tokens = hs256Tokens(JWT_SECRET, "hookrelay");
const noLimits = new RateGate(new MemoryRateLimiter(), { ingestPerIp: 0, ingestPerCustomer: 0, apiPerIp: 0, apiPerCustomer: 0 });
const writer = () => tokens.issue({ subject: "t", customerId: "default", scopes: ["webhooks:read", "webhooks:write"] });

describe("hookrelay registry alone", () => {
  let proc: Subprocess<"ignore", "pipe", "pipe">;
  let address: string;
  let output = "";

  beforeAll(async () => {
    await grpcurlPath();
    const { ports, env } = portsAndEnv({ HOOKRELAY_ALLOW_PRIVATE_TARGETS: "false", HOOKRELAY_SECURITY_JWT_SECRET: JWT_SECRET, HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info" });
    address = `127.0.0.1:${ports.registry}`;
    proc = Bun.spawn(["bun", "src/cli/main.ts", "registry"], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
    for (const stream of [proc.stdout, proc.stderr])
      (async () => {
        for await (const chunk of stream) output += new TextDecoder().decode(chunk);
      })();
    await waitFor(
      "the registry's health",
      async () => {
        if (proc.exitCode !== null) throw new Error(`hookrelay registry exited ${proc.exitCode}: ${output}`);
        return (await grpcurl(address, ["grpc.health.v1.Health/Check"], { data: {} })).body?.status === "SERVING";
      },
      20_000,
      100,
    );
  }, 240_000);

  afterAll(() => {
    if (proc.exitCode === null) proc.kill(9);
  });

  it("serves the registry and no HTTP role", async () => {
    expect(output).toContain('"roles":["registry"]');
    const created = await grpcurl(address, [`${SERVICE}/CreateWebhook`], { token: await writer(), data: { webhook: { url: "https://8.8.8.8/hook", event_types: ["alone"] } } });
    expect(created.code).toBe("OK");
    expect(created.body.webhook.url).toBe("https://8.8.8.8/hook");
  });

  it("refuses a private or loopback target when private targets are not allowed", async () => {
    for (const url of ["http://127.0.0.1:9/x", "http://10.1.2.3/x", "http://[::1]/x"]) {
      const refused = await grpcurl(address, [`${SERVICE}/CreateWebhook`], { token: await writer(), data: { webhook: { url, event_types: ["x"] } } });
      expect({ url, code: refused.code }).toEqual({ url, code: "InvalidArgument" });
      expect(refused.message).toContain("url: target refused");
    }
  });

  it("streams SERVING to a health Watch", async () => {
    // A stream stays open: grpcurl prints what came, then gives up at its deadline.
    const watch = await grpcurl(address, ["grpc.health.v1.Health/Watch"], { data: { service: SERVICE }, maxTimeSeconds: 1.5 });
    expect(watch.stdout).toContain('"status": "SERVING"');
  });

  it("stops cleanly on SIGTERM", async () => {
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(output).toContain('"msg":"stopped"');
    const [hostname, port] = address.split(":");
    const listening = await Bun.connect({ hostname: hostname!, port: Number(port), socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    expect(listening).toBe(false);
  });
});

/** A registry on `store` alone, on a free loopback port. */
function registryOn(store: Store, checks: { store?: Store }, shutdownTimeoutMs: number) {
  return startRegistry(
    {
      store,
      clock: { now: () => Date.now() },
      checkTarget: async () => null,
      webhookLimits: { maxWebhooks: 500, maxFanout: 100 },
      credentials: tokens,
      rateGate: noLimits,
      log: createLogger("silent"),
      checks,
    },
    "127.0.0.1",
    0,
    shutdownTimeoutMs,
  );
}

describe("a registry on a stand-in store", () => {
  const fail = (err: Error) => new Proxy({}, { get: () => () => Promise.reject(err) }) as Store;
  const down = new UnavailableError("database unavailable (ECONNREFUSED); try again");

  it("reports NOT_SERVING and answers UNAVAILABLE with the reason", async () => {
    const registry = await registryOn(fail(down), { store: fail(down) }, 1000);
    try {
      const address = `127.0.0.1:${registry.port}`;
      expect((await grpcurl(address, ["grpc.health.v1.Health/Check"], { data: { service: SERVICE } })).body).toEqual({ status: "NOT_SERVING" });
      expect(await grpcurl(address, [`${SERVICE}/GetWebhook`], { token: await writer(), data: { id: "wh_x" } })).toMatchObject({
        code: "Unavailable",
        message: "database unavailable (ECONNREFUSED); try again",
      });
    } finally {
      await registry.stop();
    }
  });

  it("finishes a call in flight when stopped, then closes", async () => {
    const webhook = {
      id: "wh_slow",
      customerId: "default",
      url: "https://8.8.8.8/",
      eventTypes: ["x"],
      headers: {},
      description: null,
      secret: "whsec_x",
      status: "active" as const,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    let started = false;
    const store = {
      getWebhook: async () => {
        started = true;
        await Bun.sleep(500);
        return webhook;
      },
      ping: async () => {},
    } as unknown as Store;
    const registry = await registryOn(store, { store }, 5000);
    const address = `127.0.0.1:${registry.port}`;
    const call = grpcurl(address, [`${SERVICE}/GetWebhook`], { token: await writer(), data: { id: "wh_slow" } });
    await waitFor("the call to reach the store", () => started);
    const stopped = registry.stop();
    expect((await call).body.webhook.id).toBe("wh_slow");
    await stopped;
  });

  it("answers ALREADY_EXISTS when the store reports a conflict", async () => {
    const store = fail(new ConflictError("webhook 'wh_1' already exists"));
    const registry = await registryOn(store, {}, 1000);
    try {
      const created = await grpcurl(`127.0.0.1:${registry.port}`, [`${SERVICE}/CreateWebhook`], { token: await writer(), data: { webhook: { url: "https://8.8.8.8/x", event_types: ["x"] } } });
      expect(created).toMatchObject({ code: "AlreadyExists", message: "webhook 'wh_1' already exists" });
    } finally {
      await registry.stop();
    }
  });
});
