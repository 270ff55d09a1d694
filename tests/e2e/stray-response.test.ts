// A hostile receiver pushing unasked-for HTTP responses down kept-alive connections, end to end in
// both deployments. Two customers' webhooks point at one origin (a raw node:net server on
// 127.0.0.1), so `fetch` carries both customers' deliveries over the same pooled connections.
// The receiver answers each of customer A's requests with its answer and, in the same write, an
// extra `299` answer holding A's private data; later, with every connection idle in the pool, it
// pushes such a stray down each of them, and both customers send more. Every attempt hookrelay
// stores, read back with each customer's own key, must be the answer the receiver gave to that very
// request: never a stray one, and never A's bytes in B's.
// (The unit cases of single framing faults are in src/adapters/http/sender-hostile.test.ts.)
//
// A stray sent in a write of its own right after an answer (0-1 ms later) is what Bun 1.4.5's fetch
// gets wrong: a connection handed back to the pool and reused at once, before the event loop has
// seen those bytes, takes the stray as the next request's answer (measured: 4-6% of such reuses with
// the receiver in another process, most of them in the same process). So hookrelay never reuses a
// connection to an origin two customers send to (FetchSender); the second case below holds B's
// attempts to that with such strays.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { messageIdFor } from "../../src/domain/ids.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

/** Events per customer and phase (live strays, then idle strays). */
const EVENTS = 20;
const WEBHOOKS_EACH = 2;
const STRAY_MARK = "PRIVATE-A";

interface Answered {
  connection: number;
  path: string;
  webhookId: string;
  status: number;
  body: string;
}

const strayAnswer = (n: number) => {
  const secret = `${STRAY_MARK}:${n}:card=4111111111111111`;
  return `HTTP/1.1 299 Stray\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(secret)}\r\n\r\n${secret}`;
};

/**
 * The receiver. It frames requests by Content-Length as a keep-alive server must, answers each
 * with its own status and a body naming the request (`A-own:<seq>`, `B-own:<seq>`): 500 for the
 * first request of a (path, webhook-id) and 200 after, so every delivery also takes a retry over
 * whatever connection is free then. Each of A's answers has a stray `299` with A's private data
 * right behind its last byte, in the same write. `pushIdle` sends one down every open connection.
 */
async function hostileReceiver(options: { strayInOwnWrite?: boolean } = {}) {
  const answered: Answered[] = [];
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
  let connections = 0;
  let seq = 0;
  let strays = 0;
  const server: Server = createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    socket.on("error", () => {});
    let buffer = Buffer.alloc(0);
    socket.on("data", (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (;;) {
        const end = buffer.indexOf("\r\n\r\n");
        if (end < 0) return;
        const head = buffer.subarray(0, end).toString("latin1");
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        if (buffer.length < end + 4 + length) return;
        buffer = buffer.subarray(end + 4 + length);
        const path = head.split("\r\n")[0]!.split(" ")[1]!;
        const webhookId = /\r\nwebhook-id: *([^\r\n]+)/i.exec(head)?.[1] ?? "";
        const n = seq++;
        const key = `${path} ${webhookId}`;
        const tries = (seen.get(key) ?? 0) + 1;
        seen.set(key, tries);
        const customer = path.startsWith("/a/") ? "A" : "B";
        const status = tries === 1 ? 500 : 200;
        const body = `${customer}-own:${n}:${tries === 1 ? "failing" : "fine"}`;
        answered.push({ connection, path, webhookId, status, body });
        const answer = `HTTP/1.1 ${status} ${status === 200 ? "OK" : "Internal Server Error"}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
        if (customer === "A") strays++;
        if (customer === "A" && options.strayInOwnWrite) {
          socket.write(answer);
          setImmediate(() => socket.write(strayAnswer(n)));
        } else socket.write(customer === "A" ? answer + strayAnswer(n) : answer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: (path: string) => `http://127.0.0.1:${port}${path}`,
    answered,
    /** A stray down every open connection (call while none carries a request); how many. */
    pushIdle(): number {
      for (const socket of sockets) socket.write(strayAnswer(seq));
      strays += sockets.size;
      return sockets.size;
    },
    stats: () => ({ connections, requests: seq, strays }),
    stop() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe.each(MODES)("a receiver pushing stray responses on kept-alive connections (%s)", (mode) => {
  let hr: Instance;
  let receiver: Awaited<ReturnType<typeof hostileReceiver>>;
  let admin: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
      HOOKRELAY_RETRY_MANAGER_JITTER: "0",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "5s",
    });
    receiver = await hostileReceiver();
    admin = client(hr.gateway, await adminToken(hr.gateway));
  });

  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  async function customer(name: string) {
    const id = `${name}-${run}`;
    expect((await admin("POST", "/api/v1/customers", { id, name })).status).toBe(201);
    const key = await admin("POST", `/api/v1/customers/${id}/api-keys`, { name, scopes: ["webhooks:write", "events:write", "deliveries:read"] });
    return { id, api: client(hr.gateway, key.body.key), ingest: client(hr.ingest, key.body.key) };
  }

  it("stores for every attempt the answer to that very request, never a stray 299, and never A's data in B's attempts", async () => {
    const a = await customer("stray-a");
    const b = await customer("stray-b");
    const hooks: { customer: typeof a; letter: "a" | "b"; id: string; path: string }[] = [];
    for (const [letter, c] of [
      ["a", a],
      ["b", b],
    ] as const)
      for (let w = 0; w < WEBHOOKS_EACH; w++) {
        const path = `/${letter}/${w}`;
        const hook = await c.api("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: ["stray.test"] });
        expect(hook.status).toBe(201);
        hooks.push({ customer: c, letter, id: hook.body.id, path });
      }
    /** Both customers' events interleaved, in small batches, so their deliveries share the pool. */
    const send = async (phase: string) => {
      for (let i = 0; i < EVENTS; i += 5)
        for (const c of [a, b]) {
          const events = Array.from({ length: 5 }, (_, j) => ({ id: `evt_${phase}_${i + j}`, type: "stray.test", source: "t", data: { n: i + j } }));
          expect((await c.ingest("POST", "/events/batch", { events })).status).toBe(202);
        }
    };
    const settled = (perWebhook: number) => async () => {
      for (const h of hooks) {
        const page = await h.customer.api("GET", `/api/v1/deliveries?webhook_id=${h.id}&limit=1000`);
        if (page.body.data.filter((d: { status: string }) => d.status === "succeeded" || d.status === "dead").length < perWebhook) return false;
      }
      return true;
    };

    // Phase 1: strays behind A's answers while deliveries run.
    await send("live");
    await waitFor("the first phase's deliveries settled", settled(EVENTS), 60_000, 200);
    await Bun.sleep(200);
    // Phase 2: every connection idle in the pool gets a stray, then more of both customers' deliveries.
    const idle = receiver.pushIdle();
    await Bun.sleep(100);
    await send("idle");
    await waitFor("the second phase's deliveries settled", settled(2 * EVENTS), 60_000, 200);
    await Bun.sleep(200);

    const problems: string[] = [];
    let attempts = 0;
    for (const h of hooks) {
      const deliveries = (await h.customer.api("GET", `/api/v1/deliveries?webhook_id=${h.id}&limit=1000`)).body.data as { id: string; event_id: string; status: string }[];
      expect(deliveries).toHaveLength(2 * EVENTS);
      for (const d of deliveries) {
        const webhookId = messageIdFor(h.customer.id, d.event_id);
        const sent = receiver.answered.filter((r) => r.path === h.path && r.webhookId === webhookId);
        const stored = (await h.customer.api("GET", `/api/v1/deliveries/${d.id}/attempts`)).body.data as {
          attempt_number: number;
          status_code: number | null;
          response_body: string | null;
          error: string | null;
        }[];
        attempts += stored.length;
        const where = `${h.letter.toUpperCase()} ${h.path} ${d.event_id}`;
        if (d.status !== "succeeded") problems.push(`${where}: ${d.status}`);
        if (stored.length !== sent.length) problems.push(`${where}: ${stored.length} attempts stored, ${sent.length} requests answered`);
        stored.forEach((attempt, i) => {
          const own = sent[i];
          if (!own || attempt.status_code !== own.status || attempt.response_body !== own.body)
            problems.push(
              `${where} attempt ${attempt.attempt_number}: stored ${attempt.status_code} ${JSON.stringify(attempt.response_body)} (${attempt.error}), the receiver answered ${own ? `${own.status} ${JSON.stringify(own.body)}` : "nothing"}`,
            );
          const text = `${attempt.response_body ?? ""} ${attempt.error ?? ""}`;
          if (attempt.status_code === 299 || text.includes(STRAY_MARK)) problems.push(`${where} attempt ${attempt.attempt_number}: a stray answer stored`);
          if (h.letter === "b" && text.includes("A-own")) problems.push(`${where} attempt ${attempt.attempt_number}: A's answer in B's attempt`);
        });
      }
    }
    const stats = receiver.stats();
    // Connections that carried both customers' requests: the case that matters.
    const carriedA = new Set(receiver.answered.filter((r) => r.path.startsWith("/a/")).map((r) => r.connection));
    const mixed = new Set(receiver.answered.filter((r) => r.path.startsWith("/b/") && carriedA.has(r.connection)).map((r) => r.connection));
    console.log(
      `stray responses (${mode}): ${stats.requests} requests over ${stats.connections} connections (${mixed.size} carried both customers), ` +
        `${stats.strays} strays (${idle} to idle connections), ${attempts} attempts stored, ${problems.length} problems`,
    );
    expect(problems).toEqual([]);
    const total = hooks.length * 2 * EVENTS;
    expect(attempts).toBe(2 * total); // a failed first try and its retry each
    expect(stats.requests).toBe(2 * total);
    // Both customers send to this origin: no connection carries both (so none is idle in the pool to
    // push a stray down either; a one-customer origin keeps its connections, and a stray there can
    // only ever be that customer's own server answering its own delivery).
    expect(mixed.size).toBe(0);
  });

  it("never lets a stray written right after one of A's answers be stored as B's: an origin both use reuses no connection", async () => {
    const own = await hostileReceiver({ strayInOwnWrite: true });
    try {
      const a = await customer("own-a");
      const b = await customer("own-b");
      const hooks: { customer: typeof a; letter: "a" | "b"; id: string; path: string }[] = [];
      for (const [letter, c] of [
        ["a", a],
        ["b", b],
      ] as const) {
        const path = `/${letter}/own`;
        const hook = await c.api("POST", "/api/v1/webhooks", { url: own.url(path), event_types: ["stray.own"] });
        expect(hook.status).toBe(201);
        hooks.push({ customer: c, letter, id: hook.body.id, path });
      }
      for (let i = 0; i < EVENTS; i += 5)
        for (const c of [a, b]) {
          const events = Array.from({ length: 5 }, (_, j) => ({ id: `evt_own_${i + j}`, type: "stray.own", source: "t", data: { n: i + j } }));
          expect((await c.ingest("POST", "/events/batch", { events })).status).toBe(202);
        }
      const [, hookB] = hooks;
      let deliveries: { id: string; status: string }[] = [];
      await waitFor(
        "B's deliveries settled",
        async () => {
          deliveries = (await b.api("GET", `/api/v1/deliveries?webhook_id=${hookB!.id}&limit=1000`)).body.data;
          return deliveries.length === EVENTS && deliveries.every((d) => d.status === "succeeded" || d.status === "dead");
        },
        60_000,
        200,
      );
      const problems: string[] = [];
      for (const d of deliveries) {
        const stored = (await b.api("GET", `/api/v1/deliveries/${d.id}/attempts`)).body.data as { status_code: number | null; response_body: string | null }[];
        for (const attempt of stored)
          if (attempt.status_code === 299 || (attempt.response_body ?? "").includes(STRAY_MARK) || (attempt.response_body ?? "").includes("A-own"))
            problems.push(`B ${d.id}: stored ${attempt.status_code} ${JSON.stringify(attempt.response_body)}`);
        if (d.status !== "succeeded") problems.push(`B ${d.id}: ${d.status}`);
      }
      const carriedA = new Set(own.answered.filter((r) => r.path.startsWith("/a/")).map((r) => r.connection));
      const mixed = new Set(own.answered.filter((r) => r.path.startsWith("/b/") && carriedA.has(r.connection)).map((r) => r.connection));
      console.log(
        `strays in their own write (${mode}): ${own.stats().requests} requests over ${own.stats().connections} connections, ${mixed.size} carried both customers, ${problems.length} problems in B's attempts`,
      );
      expect(problems).toEqual([]);
      expect(mixed.size).toBe(0);
    } finally {
      own.stop();
    }
  });
});
