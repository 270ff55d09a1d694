/**
 * @module A sink receiver in its own Bun process: answers 204 to every POST and counts them;
 * `GET /stats` returns `{"received":N}`. Prints `{"port":N}` once listening (PORT=0 by default).
 */
let received = 0;
const server = Bun.serve({
  port: Number(process.env.PORT ?? 0),
  hostname: process.env.HOST ?? "127.0.0.1",
  async fetch(request) {
    if (request.method === "GET" && new URL(request.url).pathname === "/stats") return Response.json({ received });
    await request.arrayBuffer();
    received++;
    return new Response(null, { status: 204 });
  },
});
console.log(JSON.stringify({ port: server.port }));

export {};
