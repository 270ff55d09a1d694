// Roles started before their backends are ready wait for them (src/cli/backend-wait.ts): they
// stay up, log why, answer /health 503 naming what they wait for, and serve once it is there.
// The unready backends are real sockets: a TCP gate on 127.0.0.1 that closes every connection
// until it is opened, then forwards to the real PostgreSQL, Redis or Kafka of `bun run test`.
import { afterAll, describe, expect, it } from "bun:test";
import net from "node:net";
import type { Subprocess } from "bun";
import pino from "pino";
import type { EventOutbox } from "../../src/adapters/kafka/event-log.ts";
import { KafkaEventLog } from "../../src/adapters/kafka/event-log.ts";
import { createMetrics } from "../../src/platform/metrics.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { portsAndEnv } from "../helpers/process.ts";
import { freshTopic, productionEnv, requireServices, schemaFactory, TEST_DATABASE_URL, TEST_KAFKA_BROKERS, TEST_REDIS_URL } from "../helpers/services.ts";

const ready = requireServices("roles waiting for their backends", {
  HOOKRELAY_TEST_DATABASE_URL: TEST_DATABASE_URL,
  HOOKRELAY_TEST_REDIS_URL: TEST_REDIS_URL,
  HOOKRELAY_TEST_KAFKA_BROKERS: TEST_KAFKA_BROKERS,
});

const procs: Subprocess[] = [];
const gates: Gate[] = [];
afterAll(() => {
  for (const p of procs) p.kill(9);
  for (const g of gates) g.close();
});

/** A TCP gate: accepts and at once closes every connection until `open()`, then forwards each to `target`. */
class Gate {
  private forwarding = false;
  private readonly sockets = new Set<net.Socket>();
  private constructor(
    private readonly server: net.Server,
    readonly port: number,
  ) {}

  static async start(target: string): Promise<Gate> {
    const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
    let gate!: Gate;
    const server = net.createServer((socket) => {
      gate.sockets.add(socket);
      socket.on("close", () => gate.sockets.delete(socket));
      socket.on("error", () => {});
      if (!gate.forwarding) return void socket.destroy();
      const upstream = net.connect(port, host);
      gate.sockets.add(upstream);
      upstream.on("close", () => gate.sockets.delete(upstream));
      upstream.on("error", () => socket.destroy());
      socket.on("close", () => upstream.destroy());
      upstream.on("close", () => socket.destroy());
      socket.pipe(upstream).pipe(socket);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    gate = new Gate(server, (server.address() as net.AddressInfo).port);
    gates.push(gate);
    return gate;
  }

  open(): void {
    this.forwarding = true;
  }

  close(): void {
    this.server.close();
    for (const s of this.sockets) s.destroy();
  }
}

/** `url` with its host and port replaced by the gate's. */
function through(url: string, gate: Gate): string {
  const u = new URL(url);
  u.hostname = "127.0.0.1";
  u.port = String(gate.port);
  return u.toString();
}

interface Role {
  proc: Subprocess;
  port: number;
  output(): string;
}

/** One role as its own process, on free ports, its stdout and stderr collected. */
function spawnRole(role: "gateway" | "observability", overrides: Record<string, string>): Role {
  // info: the lines saying a backend is ready and the shutdown are asserted on.
  const { ports, env } = portsAndEnv({ HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "info", ...overrides });
  const proc = Bun.spawn(["bun", "src/cli/main.ts", role], { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", ...env }, stdout: "pipe", stderr: "pipe" });
  procs.push(proc);
  let out = "";
  for (const stream of [proc.stdout, proc.stderr] as ReadableStream<Uint8Array>[])
    (async () => {
      for await (const chunk of stream) out += new TextDecoder().decode(chunk);
    })();
  return { proc, port: ports[role], output: () => out };
}

interface Health {
  status: number;
  body: { status?: string; role?: string; failing?: string[]; waiting?: { backend: string; check: string; attempts: number; error: string | null }[] };
}
async function health(port: number): Promise<Health | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5_000) });
    return { status: res.status, body: (await res.json()) as Health["body"] };
  } catch {
    return null;
  }
}

/** Polls /health until `check` holds for its answer; fails at once if the process exits. */
async function healthUntil(role: Role, what: string, check: (h: Health) => boolean, timeoutMs = 40_000): Promise<Health> {
  let last: Health | null = null;
  await waitFor(
    what,
    async () => {
      if (role.proc.exitCode !== null) throw new Error(`the role exited ${role.proc.exitCode} while waiting for ${what}:\n${role.output()}`);
      last = await health(role.port);
      return last !== null && check(last);
    },
    timeoutMs,
    100,
  );
  return last!;
}

/** Whether /health names `backend` as waited for after at least `attempts` failed tries. */
const waitsFor = (h: Health, backend: string, attempts = 1) => h.body.waiting?.some((w) => w.backend === backend && w.attempts >= attempts && w.error) ?? false;

/** A password the test PostgreSQL (trust authentication) ignores, which must never be shown. */
const PASSWORD = "wait-test-Secret-9f3k";
function withPassword(url: string): string {
  const u = new URL(url);
  u.password = PASSWORD;
  return u.toString();
}

/** Waits for the process to end; its exit code, or null if it has not ended within `ms`. */
async function exitWithin(proc: Subprocess, ms: number): Promise<number | null> {
  return Promise.race([proc.exited, Bun.sleep(ms).then(() => null)]);
}

if (ready) {
  const freshSchema = schemaFactory(TEST_DATABASE_URL!);

  describe("roles wait for their backends", () => {
    it("gateway and observability started at the same moment on a fresh schema and topic both come up", async () => {
      const env = await productionEnv(freshSchema);
      const gateway = spawnRole("gateway", env);
      const observability = spawnRole("observability", env);
      for (const role of [gateway, observability]) await healthUntil(role, "/health 200", (h) => h.status === 200, 60_000);
      await Bun.sleep(500);
      expect(gateway.proc.exitCode).toBeNull();
      expect(observability.proc.exitCode).toBeNull();
      for (const role of [gateway, observability]) expect(role.output()).not.toContain("cannot start");
    }, 90_000);

    it("processes creating the same topic at once all succeed (losing the race is success)", async () => {
      const topic = freshTopic("hr-wait-race");
      const silent = pino({ level: "silent" });
      const logs = Array.from(
        { length: 4 },
        (_, i) =>
          new KafkaEventLog(
            { brokers: TEST_KAFKA_BROKERS!, topic, partitions: 2, clientId: `race-${i}`, produceTimeoutMs: 5_000, republishAfterMs: 10_000 },
            {} as EventOutbox,
            silent,
            createMetrics(),
          ),
      );
      try {
        const results = await Promise.allSettled(logs.map((l) => l.ensureTopic()));
        expect(results.map((r) => (r.status === "rejected" ? String(r.reason) : "ok"))).toEqual(["ok", "ok", "ok", "ok"]);
      } finally {
        await Promise.all(logs.map((l) => l.close()));
      }
    });

    it("a gateway whose PostgreSQL is unreachable stays up, logs why, answers 503 naming it, and serves once it is reachable", async () => {
      const gate = await Gate.start(new URL(TEST_DATABASE_URL!).host);
      const env = await productionEnv(freshSchema);
      const gateway = spawnRole("gateway", { ...env, DATABASE_URL: withPassword(through(env.DATABASE_URL!, gate)) });

      // Several failed tries: it keeps trying (with backoff) rather than giving up.
      const waiting = await healthUntil(gateway, "/health 503 naming PostgreSQL after 3 tries", (h) => h.status === 503 && waitsFor(h, "PostgreSQL", 3));
      expect(waiting.body).toMatchObject({ status: "unavailable", role: "gateway" });
      expect(waiting.body.failing!.some((f) => f.startsWith("store: waiting for PostgreSQL: "))).toBe(true);
      // Any other path says it is starting, not 404 or a refused connection.
      const other = await fetch(`http://127.0.0.1:${gateway.port}/api/v1/webhooks`);
      expect(other.status).toBe(503);
      expect(((await other.json()) as { error: { code: string } }).error.code).toBe("unavailable");
      await waitFor("a warning naming PostgreSQL", () => /"level":"warn".*"backend":"PostgreSQL".*"msg":"waiting for PostgreSQL: /.test(gateway.output()), 20_000, 100);

      gate.open();
      await healthUntil(gateway, "/health 200 once PostgreSQL is reachable", (h) => h.status === 200);
      const token = await adminToken(`http://127.0.0.1:${gateway.port}`);
      const api = client(`http://127.0.0.1:${gateway.port}`, token);
      expect((await api("POST", "/api/v1/webhooks", { url: "http://127.0.0.1:9/hook", event_types: ["wait.test"] })).status).toBe(201);
      expect((await api("POST", "/api/v1/events", { id: "evt_wait_pg", type: "wait.test", source: "t", data: {} })).status).toBe(202);
      expect(gateway.proc.exitCode).toBeNull();
      expect(gateway.output()).toContain("PostgreSQL is ready");
      expect(gateway.output()).not.toContain(PASSWORD);
    }, 120_000);

    it("a gateway whose Redis and Kafka are unreachable names both, then each in turn, and serves once both are reachable", async () => {
      const redisGate = await Gate.start(new URL(TEST_REDIS_URL!).host);
      const kafkaGate = await Gate.start(TEST_KAFKA_BROKERS![0]!);
      const env = await productionEnv(freshSchema);
      // Kafka is asked through the gate first; the broker then points the client at its own address.
      const gateway = spawnRole("gateway", { ...env, REDIS_URL: through(env.REDIS_URL!, redisGate), KAFKA_BROKERS: `127.0.0.1:${kafkaGate.port}` });

      const both = await healthUntil(gateway, "/health 503 naming Redis and Kafka", (h) => h.status === 503 && waitsFor(h, "Redis") && waitsFor(h, "Kafka"));
      expect(both.body.waiting!.map((w) => w.check).sort()).toEqual(["event_log", "retry_schedule"]);
      redisGate.open();
      const kafkaOnly = await healthUntil(gateway, "/health 503 naming Kafka alone", (h) => h.status === 503 && h.body.waiting?.length === 1);
      expect(kafkaOnly.body.waiting![0]!.backend).toBe("Kafka");
      expect(kafkaOnly.body.failing![0]).toStartWith("event_log: waiting for Kafka: ");
      kafkaGate.open();
      await healthUntil(gateway, "/health 200 once Kafka is reachable", (h) => h.status === 200);

      const token = await adminToken(`http://127.0.0.1:${gateway.port}`);
      const api = client(`http://127.0.0.1:${gateway.port}`, token);
      expect((await api("POST", "/api/v1/events", { id: "evt_wait_kafka", type: "wait.test", source: "t", data: {} })).status).toBe(202);
      expect(gateway.proc.exitCode).toBeNull();
      for (const backend of ["Redis", "Kafka"]) expect(gateway.output()).toContain(`"msg":"waiting for ${backend}: `);
    }, 120_000);

    it("SIGTERM while waiting stops the process promptly with exit 0", async () => {
      const gate = await Gate.start(new URL(TEST_DATABASE_URL!).host);
      const env = await productionEnv(freshSchema);
      const gateway = spawnRole("gateway", { ...env, DATABASE_URL: through(env.DATABASE_URL!, gate) });
      await healthUntil(gateway, "/health 503 naming PostgreSQL", (h) => h.status === 503 && waitsFor(h, "PostgreSQL"));
      const sent = performance.now();
      gateway.proc.kill("SIGTERM");
      const code = await exitWithin(gateway.proc, 15_000);
      expect({ code, output: code === 0 ? "" : gateway.output() }).toEqual({ code: 0, output: "" });
      expect(performance.now() - sent).toBeLessThan(15_000);
      expect(gateway.output()).toContain("shutting down while waiting for the backends");
    }, 60_000);

    it("what retrying cannot fix exits 1 with one line: a malformed URL, a role the server does not know", async () => {
      const env = await productionEnv(freshSchema);
      const cases: [string, RegExp][] = [
        [`postgres://hookrelay:${PASSWORD}@127.0.0.1:notaport/hookrelay`, /^hookrelay: database\.url \(DATABASE_URL\): /],
        ["127.0.0.1:5432", /^hookrelay: database\.url \(DATABASE_URL\): not a PostgreSQL URL/],
        [withPassword(env.DATABASE_URL!.replace("//hookrelay@", "//hr_no_such_role@")), /^hookrelay: cannot start on the configured backends: PostgreSQL: .*\(28000\); retrying cannot fix this/],
      ];
      for (const [url, expected] of cases) {
        const role = spawnRole("gateway", { ...env, DATABASE_URL: url });
        const code = await exitWithin(role.proc, 30_000);
        await Bun.sleep(100); // the last of its output
        const stderr = role
          .output()
          .split("\n")
          .filter((line) => line.trim() !== "" && !line.startsWith("{"));
        expect({ code, stderr }).toMatchObject({ code: 1, stderr: [expect.stringMatching(expected)] });
        expect(role.output()).not.toContain(PASSWORD);
      }
    }, 120_000);
  });
}
