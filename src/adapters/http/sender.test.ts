/**
 * @module FetchSender against a real loopback server: timeouts, redirects, capped bodies, the SSRF
 * guard; https:// to the vetted address with the name's certificate. Receivers that answer early
 * or frame their answers badly are in sender-hostile.test.ts.
 */
import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { selfSigned } from "../../../tests/helpers/certificates.ts";
import { FetchSender, parseRetryAfter } from "./sender.ts";
import { anyTargetResolver, publicTargetResolver } from "./target-guard.ts";

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    const path = new URL(request.url).pathname;
    if (path === "/ok") return new Response(`echo:${request.headers.get("x-custom")}:${await request.text()}`);
    if (path === "/big") return new Response("x".repeat(100_000));
    if (path === "/redirect") return new Response(null, { status: 302, headers: { location: "/ok" } });
    if (path === "/slow") return Bun.sleep(2_000).then(() => new Response("late"));
    if (path === "/busy") return new Response("wait", { status: 429, headers: { "retry-after": "7" } });
    return new Response("?", { status: 404 });
  },
});
const base = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop(true));

const makeSender = (guarded: boolean) => new FetchSender({ maxResponseBytes: 64, resolveTarget: guarded ? publicTargetResolver() : anyTargetResolver, userAgent: "hookrelay/test" });
const sender = makeSender(false);
const send = (path: string, timeoutMs = 1_000) => sender.send({ url: `${base}${path}`, headers: { "x-custom": "yes" }, body: '{"a":1}', timeoutMs, customerId: "cust_test" });

describe("FetchSender", () => {
  it("posts the body with the given headers and returns status and answer", async () => {
    const result = await send("/ok");
    expect(result).toMatchObject({ status: 200, error: null, responseBody: 'echo:yes:{"a":1}', retryAfterMs: null });
    expect(result.durationMs).toBeGreaterThan(0);
  });

  it("keeps only max_response_body_bytes of a large answer", async () => {
    const result = await send("/big");
    expect(result.status).toBe(200);
    expect(result.responseBody).toBe("x".repeat(64));
  });

  it("does not follow redirects: a 302 is a failed attempt", async () => {
    const result = await send("/redirect");
    expect(result).toMatchObject({ status: 302, error: "HTTP 302" });
  });

  it("gives up at the timeout and says so", async () => {
    const started = performance.now();
    const result = await send("/slow", 200);
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(result).toMatchObject({ status: null, error: "timeout after 200ms" });
  });

  it("reports a refused connection as a network error", async () => {
    const closed = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = closed.port;
    closed.stop(true);
    const result = await sender.send({ url: `http://127.0.0.1:${port}/`, headers: {}, body: "{}", timeoutMs: 1_000, customerId: "cust_test" });
    expect(result.status).toBeNull();
    expect(result.error).toStartWith("network:");
  });

  it("passes an endpoint's Retry-After on", async () => {
    expect((await send("/busy")).retryAfterMs).toBe(7_000);
    expect(parseRetryAfter("Wed, 21 Oct 2015 07:28:10 GMT", Date.parse("Wed, 21 Oct 2015 07:28:00 GMT"))).toBe(10_000);
    expect(parseRetryAfter("soon")).toBeNull();
  });

  it("refuses private targets at send time when the guard is on, without connecting", async () => {
    let hits = 0;
    const watched = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, new Response("ok")) });
    try {
      const guarded = makeSender(true);
      for (const host of [`127.0.0.1:${watched.port}`, `localhost:${watched.port}`, `[::ffff:127.0.0.1]:${watched.port}`]) {
        const result = await guarded.send({ url: `http://${host}/`, headers: {}, body: "{}", timeoutMs: 1_000, customerId: "cust_test" });
        expect(result.status).toBeNull();
        expect(result.error).toStartWith("blocked:");
      }
      expect(hits).toBe(0);
    } finally {
      watched.stop(true);
    }
  });

  it("connects to the address the SSRF guard vetted, not to a fresh lookup of the name (DNS rebinding), over http:// too", async () => {
    const hosts: string[] = [];
    const watched = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: (request) => (hosts.push(request.headers.get("host")!), new Response("pinned")) });
    try {
      // The name resolves nowhere: only the vetted address can have been connected to.
      const vetted = new FetchSender({ maxResponseBytes: 64, resolveTarget: async () => ({ refused: null, address: "127.0.0.1" }), userAgent: "hookrelay/test" });
      const result = await vetted.send({ url: `http://hooks.invalid:${watched.port}/in`, headers: {}, body: "{}", timeoutMs: 1_000, customerId: "cust_test" });
      expect(result).toMatchObject({ status: 200, responseBody: "pinned" });
      expect(hosts).toEqual([`hooks.invalid:${watched.port}`]);
    } finally {
      watched.stop(true);
    }
  });

  it("refuses a webhook header that would start another line, without connecting", async () => {
    let hits = 0;
    const watched = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => (hits++, new Response("ok")) });
    try {
      const result = await sender.send({ url: `http://127.0.0.1:${watched.port}/`, headers: { "x-evil": "1\r\nx-injected: yes" }, body: "{}", timeoutMs: 1_000, customerId: "cust_test" });
      expect(result.status).toBeNull();
      expect(result.error).toStartWith("network:");
      expect(hits).toBe(0);
    } finally {
      watched.stop(true);
    }
  });
});

describe("FetchSender: https:// targets", () => {
  // A certificate for hooks.example.com only; the name resolves nowhere here, so every request that
  // arrives went to the address the guard named, and the certificate was checked for the name.
  const dir = mkdtempSync(join(tmpdir(), "hookrelay-sender-tls-"));
  const files = selfSigned(dir, "hooks", "hooks.example.com");
  const cert = readFileSync(files.cert, "utf8");
  const seen: string[] = [];
  const tlsServer = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls: { cert, key: readFileSync(files.key, "utf8") },
    fetch: (request) => (seen.push(request.headers.get("host")!), new Response("secure")),
  });
  afterAll(() => tlsServer.stop(true));
  const toLoopback = async () => ({ refused: null, address: "127.0.0.1" });
  const tlsSender = new FetchSender({ maxResponseBytes: 64, resolveTarget: toLoopback, userAgent: "hookrelay/test", ca: cert });

  it("connects to the vetted address, with the name as Host and as the TLS server name", async () => {
    const result = await tlsSender.send({ url: `https://hooks.example.com:${tlsServer.port}/x`, headers: {}, body: "{}", timeoutMs: 3_000, customerId: "cust_test" });
    expect(result).toMatchObject({ status: 200, responseBody: "secure" });
    expect(seen.at(-1)).toBe(`hooks.example.com:${tlsServer.port}`);
  });

  it("fails when the vetted address's certificate is not for the name", async () => {
    const result = await tlsSender.send({ url: `https://other.example.com:${tlsServer.port}/x`, headers: {}, body: "{}", timeoutMs: 3_000, customerId: "cust_test" });
    expect(result.status).toBeNull();
    expect(result.error).toMatch(/^network: .*(ALTNAME|CERT)/);
  });
});
