/** @module Test helpers: hookrelay in this process or as a child process, on free ports and a fresh data dir. */

import { setDefaultTimeout } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { compose, ROLES } from "../../src/cli/compose.ts";
import { parseConfig } from "../../src/platform/config.ts";

// Tests over real processes and sockets wait on real time; on a loaded 2-core machine 5 s is too tight.
setDefaultTimeout(60_000);

export const ADMIN_PASSWORD = "test-admin-password";

export function tempDir(prefix = "hookrelay-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * Environment for a test instance: fresh data, fast retries, loopback targets allowed, and no
 * circuit breaker: most suites fail endpoints on purpose to test retries, crashes and limits, and
 * count the requests; a paused webhook would change what they count. The breaker's own suites
 * (breaker.test.ts, and the no-loss property, which mixes pauses into its sequences) turn it on.
 */
export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    HOOKRELAY_ENDPOINT_HEALTH_BREAKER_CONSECUTIVE_FAILURES: "0",
    HOOKRELAY_ENDPOINT_HEALTH_BREAKER_FAILURE_RATIO: "0",
    HOOKRELAY_DATA_DIR: tempDir(),
    HOOKRELAY_ADMIN_PASSWORD: ADMIN_PASSWORD,
    HOOKRELAY_ALLOW_PRIVATE_TARGETS: "true",
    HOOKRELAY_SERVER_HOST: "127.0.0.1",
    HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "warn",
    HOOKRELAY_RETRY_MANAGER_POLL_INTERVAL: "50ms",
    HOOKRELAY_DISPATCHER_POLL_INTERVAL: "50ms",
    ...overrides,
  };
}

export interface Instance {
  gateway: string;
  /** The gRPC registry's address, `127.0.0.1:<port>` (no scheme). */
  registry: string;
  ingest: string;
  observability: string;
  dispatcher: string;
  retry: string;
  logs: string[];
  stop(): Promise<void>;
}

/** Every role in this process on port 0 (the OS picks), with logs captured. */
export async function startInProcess(overrides: Record<string, string> = {}): Promise<Instance> {
  const ports = Object.fromEntries(["GATEWAY", "REGISTRY", "INGEST", "DISPATCHER", "RETRY", "OBSERVABILITY"].map((r) => [`HOOKRELAY_SERVER_${r}_PORT`, "0"]));
  const config = parseConfig({ env: testEnv({ ...ports, ...overrides }) });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk, _enc, done) {
      logs.push(...chunk.toString().split("\n").filter(Boolean));
      done();
    },
  });
  const running = await compose(ROLES, config, { print: (line) => logs.push(line), logDestination: sink });
  const url = (port: number | undefined) => `http://127.0.0.1:${port}`;
  return {
    gateway: url(running.ports.gateway),
    registry: `127.0.0.1:${running.ports.registry}`,
    ingest: url(running.ports.ingest),
    observability: url(running.ports.observability),
    dispatcher: url(running.ports.dispatcher),
    retry: url(running.ports.retry),
    logs,
    stop: () => running.lifecycle.stop(),
  };
}

/** A port nobody listens on right now. */
export function freePort(): number {
  return freePorts(1)[0]!;
}

/**
 * `n` distinct free ports. Each is held until all are picked: a port released and asked for again
 * can come back (two roles of one cluster then shared a port; the second could not listen, and its
 * health check reached the first).
 */
export function freePorts(n: number): number[] {
  const servers = Array.from({ length: n }, () => Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() }));
  const ports = servers.map((server) => server.port!);
  for (const server of servers) server.stop(true);
  return ports;
}

/** Logs in as admin and returns a bearer token. */
export async function adminToken(gateway: string): Promise<string> {
  const login = () =>
    fetch(`${gateway}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "admin", password: ADMIN_PASSWORD }),
    });
  // A kept-alive connection to a process that was on this port before (killed, its port handed
  // out again) fails once with ECONNRESET; the client then connects afresh.
  const res = await login().catch((err: { code?: string }) => (err.code === "ECONNRESET" ? login() : Promise.reject(err)));
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { access_token: string }).access_token;
}

/** A JSON API client bound to a base URL and token. */
export function client(base: string, token?: string) {
  return async (method: string, path: string, body?: unknown): Promise<{ status: number; body: any; headers: Headers }> => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {}
    return { status: res.status, body: parsed, headers: res.headers };
  };
}

/** Polls until `check` returns true or the deadline passes; throws with `what` on timeout. */
export async function waitFor(what: string | (() => string), check: () => boolean | Promise<boolean>, timeoutMs = 30_000, everyMs = 25): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${typeof what === "string" ? what : what()}`);
}
