// Both Senders (fetch, and our HTTP/1.1 client) against a real loopback server: timeouts,
// redirects, capped bodies, the SSRF guard.
import { afterAll, describe, expect, it } from "bun:test";
import type { Sender } from "../../domain/ports.ts";
import { Http1Sender } from "./http1-sender.ts";
import { FetchSender, parseRetryAfter } from "./sender.ts";
import { anyTarget, anyTargetResolver, publicTargetResolver, publicTargetsOnly } from "./target-guard.ts";

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

const SENDERS: Record<string, (guarded: boolean) => Sender> = {
  FetchSender: (guarded) => new FetchSender({ maxResponseBytes: 64, checkTarget: guarded ? publicTargetsOnly() : anyTarget, userAgent: "hookrelay/test" }),
  Http1Sender: (guarded) =>
    new Http1Sender({
      maxResponseBytes: 64,
      resolveTarget: guarded ? publicTargetResolver() : anyTargetResolver,
      userAgent: "hookrelay/test",
      maxIdlePerOrigin: 8,
      idleTimeoutMs: 4000,
    }),
};

for (const [name, makeSender] of Object.entries(SENDERS)) {
  const sender = makeSender(false);
  const send = (path: string, timeoutMs = 1_000) => sender.send({ url: `${base}${path}`, headers: { "x-custom": "yes" }, body: '{"a":1}', timeoutMs });

  describe(name, () => {
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
      const result = await sender.send({ url: `http://127.0.0.1:${port}/`, headers: {}, body: "{}", timeoutMs: 1_000 });
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
          const result = await guarded.send({ url: `http://${host}/`, headers: {}, body: "{}", timeoutMs: 1_000 });
          expect(result.status).toBeNull();
          expect(result.error).toStartWith("blocked:");
        }
        expect(hits).toBe(0);
      } finally {
        watched.stop(true);
      }
    });
  });
}
