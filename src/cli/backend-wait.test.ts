import { describe, expect, it } from "bun:test";
import { Writable } from "node:stream";
import { headOnly } from "../../tests/helpers/head-only.ts";
import { Lifecycle } from "../platform/lifecycle.ts";
import { createLogger } from "../platform/logger.ts";
import { BackendWait, errorText, MAX_DELAY_MS, retryDelay, StartupProblem, urlPasswords, WaitStopped } from "./backend-wait.ts";

function logged() {
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger("info", sink);
  return { log, lines, lifecycle: new Lifecycle(log) };
}

function freePort(): number {
  const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
  const port = server.port!;
  server.stop(true);
  return port;
}

describe("retryDelay", () => {
  it("starts at 0.2 s, doubles, stops at 5 s, with at most 10 % jitter", () => {
    for (const [attempt, base] of [
      [1, 200],
      [2, 400],
      [3, 800],
      [5, 3200],
      [6, 5000],
      [40, 5000],
    ] as const) {
      const delay = retryDelay(attempt);
      expect(delay).toBeGreaterThanOrEqual(base);
      expect(delay).toBeLessThanOrEqual(Math.round(base * 1.1));
    }
    expect(retryDelay(1000)).toBeLessThanOrEqual(MAX_DELAY_MS * 1.1);
  });
});

describe("errorText", () => {
  it("names the outer failure and the innermost causes, once each, on one line", () => {
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9092"), { code: "ECONNREFUSED" });
    const network = new Error("Connection to 127.0.0.1:9092 failed.", { cause: refused });
    const nested = new AggregateError([new AggregateError([network], "Cannot connect to any broker."), new AggregateError([network], "Cannot connect to any broker.")], "metadata failed 3 times.");
    expect(errorText(new AggregateError([nested], "Listing topics failed."))).toBe("Listing topics failed: connect ECONNREFUSED 127.0.0.1:9092");
    expect(errorText(Object.assign(new Error('role "x" does not exist'), { code: "28000" }))).toBe('role "x" does not exist (28000)');
    expect(errorText(new Error("two\n  lines"))).toBe("two lines");
    expect(errorText("plain")).toBe("plain");
  });
});

describe("urlPasswords", () => {
  it("finds each URL's password as written and decoded, none where there is none", () => {
    expect(urlPasswords(["postgres://u:p%40ss-word@h/db", "redis://:r3dis-pw@h:6379", "redis://h:6379", "postgres://u@h/db", ""])).toEqual(["p%40ss-word", "p@ss-word", "r3dis-pw"]);
  });
});

describe("BackendWait", () => {
  it("retries a backend until it is ready, answering /health 503 on the role's port meanwhile, then hands the port over", async () => {
    const { log, lines, lifecycle } = logged();
    const port = freePort();
    const wait = new BackendWait({
      log,
      lifecycle,
      secrets: ["postgres://hookrelay:hunter2-pw@db/h"],
      firstDelayMs: 20,
      maxDelayMs: 40,
      listen: { host: "127.0.0.1", ports: [{ role: "gateway", port }], tls: () => undefined },
    });
    let up = false;
    let tries = 0;
    const started = wait.run(async (w) => {
      await w.until([
        {
          backend: "PostgreSQL",
          component: "postgres",
          check: "store",
          setting: "database.url",
          attempt: async () => {
            tries++;
            if (!up) throw new Error("connect ECONNREFUSED for hookrelay:hunter2-pw");
          },
        },
      ]);
      return "built";
    });
    let body: any;
    for (let i = 0; i < 200 && !(body?.waiting?.[0]?.attempts >= 2); i++) {
      await Bun.sleep(20);
      const res = await fetch(`http://127.0.0.1:${port}/health`).catch(() => null);
      if (res) {
        expect(res.status).toBe(503);
        body = await res.json();
      }
    }
    expect(body).toMatchObject({ status: "unavailable", role: "gateway", failing: ["store: waiting for PostgreSQL: connect ECONNREFUSED for hookrelay:[redacted]"] });
    expect(body.waiting[0]).toMatchObject({ backend: "PostgreSQL", check: "store", error: "connect ECONNREFUSED for hookrelay:[redacted]" });
    const other = await fetch(`http://127.0.0.1:${port}/api/v1/webhooks`);
    expect(other.status).toBe(503);
    expect(other.headers.get("retry-after")).toBe("1");
    // A 20 MB body gets the same 503 from its head alone, not a bare 413.
    const large = await headOnly(`http://127.0.0.1:${port}`, "POST", "/events/batch", { "content-type": "application/json", "content-length": String(20 * 1024 * 1024) });
    expect(large).toMatchObject({ status: 503, headers: { "retry-after": "1" }, body: { error: { code: "unavailable" } } });

    up = true;
    expect(await started).toBe("built");
    expect(wait.waiting()).toEqual([]);
    await wait.stopServing();
    // The role's own listener gets the port.
    const own = Bun.serve({ port, hostname: "127.0.0.1", fetch: () => new Response("own") });
    expect(await (await fetch(`http://127.0.0.1:${port}/health`)).text()).toBe("own");
    own.stop(true);

    const warnings = lines.filter((l) => l.level === "warn");
    expect(warnings.length).toBe(tries - 1);
    expect(warnings[0]).toMatchObject({ component: "postgres", backend: "PostgreSQL", attempt: 1, msg: "waiting for PostgreSQL: connect ECONNREFUSED for hookrelay:[redacted]" });
    expect(JSON.stringify(lines)).not.toContain("hunter2");
    expect(lines.some((l) => l.msg === "PostgreSQL is ready")).toBe(true);
  });

  it("ends at once, with one line, on a failure retrying cannot fix", async () => {
    const { log, lifecycle } = logged();
    const wait = new BackendWait({ log, lifecycle });
    let tries = 0;
    const result = wait.run((w) =>
      w.until([
        {
          backend: "Redis",
          component: "redis",
          check: "retry_schedule",
          setting: "redis.url",
          attempt: async () => {
            tries++;
            throw new Error("WRONGPASS invalid username-password pair.");
          },
          fatal: (err) => (err as Error).message.startsWith("WRONGPASS"),
        },
        { backend: "Kafka", component: "kafka", check: "event_log", setting: "kafka.brokers", attempt: () => new Promise(() => {}) },
      ]),
    );
    const err = await result.catch((e) => e);
    expect(err).toBeInstanceOf(StartupProblem);
    expect(err.message).toBe("cannot start on the configured backends: Redis: WRONGPASS invalid username-password pair; retrying cannot fix this: check redis.url");
    expect(tries).toBe(1);
  });

  it("SIGTERM while waiting stops the lifecycle and rejects with WaitStopped", async () => {
    const { log, lines, lifecycle } = logged();
    let closed = false;
    lifecycle.onStop("client", () => {
      closed = true;
    });
    const wait = new BackendWait({ log, lifecycle, firstDelayMs: 10_000 });
    const result = wait.run((w) => w.until([{ backend: "Kafka", component: "kafka", check: "event_log", setting: "kafka.brokers", attempt: () => Promise.reject(new Error("down")) }]));
    await Bun.sleep(50);
    const before = process.listenerCount("SIGTERM");
    process.emit("SIGTERM", "SIGTERM");
    const err = await result.catch((e) => e);
    expect(err).toBeInstanceOf(WaitStopped);
    expect(closed).toBe(true);
    expect(process.listenerCount("SIGTERM")).toBe(before - 1);
    expect(lines.map((l) => l.msg)).toContain("shutting down while waiting for the backends");
  });
});
