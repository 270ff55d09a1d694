/**
 * @module The raw `Bun.serve` ceiling's server: reads each POST body and answers 202 with a small
 * JSON, nothing else. Prints `{"port":N}` once listening on 127.0.0.1.
 */
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(request) {
    await request.arrayBuffer();
    return new Response('{"status":"accepted"}', { status: 202, headers: { "content-type": "application/json" } });
  },
});
console.log(JSON.stringify({ port: server.port }));

export {};
