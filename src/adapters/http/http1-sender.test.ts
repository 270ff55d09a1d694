// Http1Sender against real loopback servers, Bun.serve and raw TCP ones that answer byte by
// byte: keep-alive reuse, endpoints that close idle connections, chunked and close-delimited
// answers, interim 100 answers, malformed answers, large bodies, header injection.
import { afterAll, describe, expect, it } from "bun:test";
import type { Socket } from "bun";
import { Http1Sender } from "./http1-sender.ts";
import { anyTargetResolver } from "./target-guard.ts";

const newSender = (maxResponseBytes = 64) =>
  new Http1Sender({ maxResponseBytes, resolveTarget: anyTargetResolver, userAgent: "hookrelay/test", maxIdlePerOrigin: 4, idleTimeoutMs: 4000 });

/** A raw TCP server: `answer` gets each request's bytes and the socket, and writes what it likes. */
function rawServer(answer: (request: string, socket: Socket<{ buffer: string; connection: number }>) => void) {
  let connections = 0;
  const server = Bun.listen<{ buffer: string; connection: number }>({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open(socket) {
        socket.data = { buffer: "", connection: ++connections };
      },
      data(socket, data) {
        socket.data.buffer += data.toString("latin1");
        const end = socket.data.buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const length = Number(/content-length: (\d+)/i.exec(socket.data.buffer.slice(0, end))?.[1] ?? 0);
        if (socket.data.buffer.length < end + 4 + length) return;
        const request = socket.data.buffer.slice(0, end + 4 + length);
        socket.data.buffer = socket.data.buffer.slice(end + 4 + length);
        answer(request, socket);
      },
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, connections: () => connections, stop: () => server.stop(true) };
}

const post = (sender: Http1Sender, url: string, body = '{"a":1}', headers: Record<string, string> = {}) => sender.send({ url, headers, body, timeoutMs: 2000 });

describe("Http1Sender", () => {
  const servers: { stop(): void }[] = [];
  afterAll(() => {
    for (const server of servers) server.stop();
  });

  it("sends the request line, host, content type and length, and the webhook's headers, and reuses one connection", async () => {
    const seen: string[] = [];
    const server = rawServer((request, socket) => {
      seen.push(request);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
    });
    servers.push(server);
    const sender = newSender();
    for (let i = 0; i < 3; i++) expect(await post(sender, `${server.url}/hooks/in?x=1`, '{"n":"é"}', { "webhook-id": "evt_1" })).toMatchObject({ status: 200, responseBody: "ok", error: null });
    expect(server.connections()).toBe(1);
    const [head, body] = seen[0]!.split("\r\n\r\n") as [string, string];
    const lines = head.split("\r\n");
    expect(lines[0]).toBe("POST /hooks/in?x=1 HTTP/1.1");
    expect(lines).toContain(`host: ${server.url.slice("http://".length)}`);
    expect(lines).toContain("content-type: application/json");
    expect(lines).toContain(`content-length: ${Buffer.byteLength('{"n":"é"}')}`);
    expect(lines).toContain("webhook-id: evt_1");
    expect(lines).toContain("user-agent: hookrelay/test");
    expect(Buffer.from(body, "latin1").toString("utf8")).toBe('{"n":"é"}');
  });

  it("sends again on a new connection when the endpoint closed the idle one, and reports a connection closed mid-answer", async () => {
    let answered = 0;
    const server = rawServer((_request, socket) => {
      answered++;
      // Answers, then closes the connection without saying so (an idle timeout on its side).
      socket.write("HTTP/1.1 204 No Content\r\n\r\n");
      setTimeout(() => socket.end(), 20);
    });
    servers.push(server);
    const sender = newSender();
    expect((await post(sender, server.url)).status).toBe(204);
    await Bun.sleep(80);
    expect((await post(sender, server.url)).status).toBe(204);
    expect(answered).toBe(2);
    expect(server.connections()).toBe(2);

    // The race the retry is for: the endpoint drops a reused connection just as the request goes out.
    const answeredOn = new Set<number>();
    const dropsReused = rawServer((_request, socket) => {
      if (answeredOn.has(socket.data.connection)) {
        socket.end();
        return;
      }
      answeredOn.add(socket.data.connection);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    servers.push(dropsReused);
    expect((await post(sender, dropsReused.url)).status).toBe(200);
    expect((await post(sender, dropsReused.url)).status).toBe(200);
    expect(dropsReused.connections()).toBe(2);

    const cut = rawServer((_request, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc");
      socket.end();
    });
    servers.push(cut);
    const result = await post(sender, cut.url);
    expect(result.status).toBeNull();
    expect(result.error).toBe("network: connection closed mid-answer");
  });

  it("reads chunked and close-delimited answers, and skips an interim 100 Continue", async () => {
    const chunked = rawServer((_request, socket) => {
      socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n");
      socket.write("5;ext=1\r\nhello\r\n");
      socket.write("6\r\n world\r\n0\r\nx-trailer: 1\r\n\r\n");
    });
    const closeDelimited = rawServer((_request, socket) => {
      socket.write("HTTP/1.1 202 Accepted\r\n\r\nuntil the end");
      socket.end();
    });
    servers.push(chunked, closeDelimited);
    const sender = newSender();
    expect(await post(sender, chunked.url)).toMatchObject({ status: 200, responseBody: "hello world" });
    expect(await post(sender, chunked.url)).toMatchObject({ status: 200, responseBody: "hello world" });
    expect(chunked.connections()).toBe(1);
    expect(await post(sender, closeDelimited.url)).toMatchObject({ status: 202, responseBody: "until the end", error: null });
  });

  it("reports a malformed answer as a network error", async () => {
    const server = rawServer((_request, socket) => {
      socket.write("SMTP ready\r\n\r\n");
    });
    servers.push(server);
    const result = await post(newSender(), server.url);
    expect(result.status).toBeNull();
    expect(result.error).toStartWith("network: invalid response: not an HTTP/1.x status line");
  });

  it("writes a body larger than the socket takes at once, whole", async () => {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: async (request) => new Response(String((await request.text()).length)) });
    servers.push({ stop: () => server.stop(true) });
    const body = JSON.stringify({ data: "x".repeat(4 * 1024 * 1024) });
    const result = await newSender().send({ url: `http://127.0.0.1:${server.port}/`, headers: {}, body, timeoutMs: 10_000 });
    expect(result).toMatchObject({ status: 200, responseBody: String(body.length) });
  });

  it("connects to the address the SSRF guard vetted, not to a fresh lookup of the name (DNS rebinding)", async () => {
    const seen: string[] = [];
    const server = rawServer((request, socket) => {
      seen.push(request);
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    servers.push(server);
    const port = server.url.split(":")[2];
    // The name does not resolve at all: only the vetted address can have been used.
    const vetted = new Http1Sender({
      maxResponseBytes: 64,
      resolveTarget: async () => ({ refused: null, address: "127.0.0.1" }),
      userAgent: "t",
      maxIdlePerOrigin: 4,
      idleTimeoutMs: 4000,
    });
    const result = await post(vetted, `http://hooks.invalid:${port}/in`);
    expect(result.status).toBe(200);
    expect(seen[0]).toContain(`host: hooks.invalid:${port}\r\n`);
  });

  it("refuses a header that would start another line, without connecting", async () => {
    const server = rawServer((_request, socket) => {
      socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    servers.push(server);
    const result = await post(newSender(), server.url, "{}", { "x-evil": "1\r\nx-injected: yes" });
    expect(result).toMatchObject({ status: null, error: "blocked: a header contains a line break" });
    expect(server.connections()).toBe(0);
  });

  it("times out on an endpoint that never answers, and does not reuse that connection", async () => {
    let requests = 0;
    const server = rawServer((_request, socket) => {
      if (++requests > 1) socket.write("HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
    });
    servers.push(server);
    const sender = newSender();
    const slow = await sender.send({ url: server.url, headers: {}, body: "{}", timeoutMs: 150 });
    expect(slow).toMatchObject({ status: null, error: "timeout after 150ms" });
    expect((await post(sender, server.url)).status).toBe(200);
    expect(server.connections()).toBe(2);
  });
});
