// Faults at the edges, in both deployments, each counted (accepted, delivered, lost, duplicates):
// 1,000 concurrent copies of one event id, and endpoints that hang, reset mid-body, answer a byte
// a second, send 10 MB, or answer with NUL bytes in the body. Nothing accepted is lost, nothing is
// delivered twice, a misbehaving endpoint costs only its own deliveries, and what it sends is stored
// truncated (NUL as U+FFFD: PostgreSQL's text cannot hold it).
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import type { Socket, TCPSocketListener } from "bun";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();
const MAX_BODY = 4096;

type Misbehaviour = "hang" | "reset" | "trickle" | "huge" | "nul";

/** A raw TCP endpoint that reads a request and then misbehaves the given way; counts requests. */
function badEndpoint(kind: Misbehaviour): { url: string; requests: () => number; stop(): void } {
  let requests = 0;
  const timers = new Set<Timer>();
  // A socket write takes what fits; the rest goes out as the socket drains.
  const pending = new Map<Socket<undefined>, Buffer>();
  const flush = (socket: Socket<undefined>) => {
    const rest = pending.get(socket);
    if (!rest) return;
    const written = socket.write(rest);
    if (written >= rest.length) pending.delete(socket);
    else pending.set(socket, rest.subarray(Math.max(0, written)));
  };
  const listener: TCPSocketListener<undefined> = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      data(socket: Socket<undefined>, data) {
        if (!data.toString("latin1").includes("\r\n\r\n")) return; // wait for the whole head
        requests++;
        if (kind === "hang") return;
        if (kind === "reset") {
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nonly a part of the answer");
          socket.end();
        } else if (kind === "trickle") {
          const answer = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
          let sent = 0;
          const timer = setInterval(() => {
            if (sent >= answer.length) return clearInterval(timer);
            socket.write(answer[sent++]!);
          }, 1000);
          timers.add(timer);
        } else if (kind === "nul") {
          socket.write("HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\nok\0\0!!");
        } else {
          const body = Buffer.alloc(10 * 1024 * 1024, "x");
          pending.set(socket, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\n\r\n`), body]));
          flush(socket);
        }
      },
      drain: flush,
    },
  });
  return {
    url: `http://127.0.0.1:${listener.port}/${kind}`,
    requests: () => requests,
    stop: () => {
      for (const timer of timers) clearInterval(timer);
      listener.stop(true);
    },
  };
}

describe.each(MODES)("faults at the edges (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "1s",
      HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "1",
      HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "200ms",
      HOOKRELAY_DISPATCHER_MAX_RESPONSE_BODY_BYTES: String(MAX_BODY),
    });
    receiver = startReceiver();
    const token = await adminToken(hr.gateway);
    api = client(hr.gateway, token);
    ingest = client(hr.ingest, token);
  });
  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  it("takes 1,000 concurrent copies of one event id once, and delivers it once", async () => {
    const path = `/dup-${run}`;
    expect((await api("POST", "/api/v1/webhooks", { url: receiver.url(path), event_types: [`dup.${run}`] })).status).toBe(201);
    const event = { id: `evt_dup_${run}`, type: `dup.${run}`, source: "t", data: { n: 1 } };
    const answers = await Promise.all(Array.from({ length: 1000 }, () => ingest("POST", "/events", event)));
    const accepted = answers.filter((a) => a.status === 202 && a.body.status === "accepted").length;
    const duplicates = answers.filter((a) => a.status === 200 && a.body.status === "duplicate").length;
    expect({ accepted, duplicates, other: answers.length - accepted - duplicates }).toEqual({ accepted: 1, duplicates: 999, other: 0 });
    await waitFor("the delivery", () => receiver.received.some((r) => r.path === path));
    await Bun.sleep(500);
    const delivered = receiver.received.filter((r) => r.path === path);
    console.log(`faults (${mode}): 1,000 copies of one id → accepted 1, duplicates 999, delivered ${delivered.length}, lost 0`);
    expect(delivered).toHaveLength(1);
  });

  it("keeps a hanging, a resetting, a trickling, a 10 MB and a NUL-answering endpoint to their own deliveries, and loses nothing", async () => {
    const endpoints = Object.fromEntries((["hang", "reset", "trickle", "huge", "nul"] as const).map((kind) => [kind, badEndpoint(kind)]));
    try {
      const type = `edge.${run}`;
      const ids: Record<string, string> = {};
      for (const [kind, endpoint] of Object.entries(endpoints)) {
        const created = await api("POST", "/api/v1/webhooks", { url: endpoint.url, event_types: [type] });
        expect(created.status).toBe(201);
        ids[kind] = created.body.id;
      }
      const healthyPath = `/healthy-${run}`;
      expect((await api("POST", "/api/v1/webhooks", { url: receiver.url(healthyPath), event_types: [type] })).status).toBe(201);

      const events = Array.from({ length: 20 }, (_, i) => ({ id: `evt_edge_${run}_${i}`, type, source: "t", data: { i } }));
      const started = Date.now();
      for (const e of events) expect((await ingest("POST", "/events", e)).status).toBe(202);
      // The healthy webhook gets every event at once, whatever the others do.
      await waitFor("the healthy deliveries", () => receiver.received.filter((r) => r.path === healthyPath).length >= events.length, 10_000);
      const healthyMs = Date.now() - started;
      expect(healthyMs).toBeLessThan(3000);

      const deliveriesOf = async (webhookId: string) => (await api("GET", `/api/v1/deliveries?webhook_id=${webhookId}&limit=100`)).body.data as any[];
      // Every delivery to a failing endpoint ends dead after its two attempts; the 10 MB one succeeds.
      await waitFor(
        "every delivery to finish",
        async () => {
          for (const kind of ["hang", "reset", "trickle"]) {
            const ds = await deliveriesOf(ids[kind]!);
            if (ds.length < events.length || ds.some((d) => d.status !== "dead")) return false;
          }
          for (const kind of ["huge", "nul"]) {
            const ds = await deliveriesOf(ids[kind]!);
            if (ds.length < events.length || ds.some((d) => d.status !== "succeeded")) return false;
          }
          return true;
        },
        45_000,
        250,
      );
      const errors: Record<string, string> = {};
      for (const kind of ["hang", "reset", "trickle"]) {
        const ds = await deliveriesOf(ids[kind]!);
        expect(ds.every((d) => d.attempt_count === 2)).toBe(true);
        errors[kind] = ds[0].last_error;
      }
      expect(errors.hang).toBe("timeout after 1000ms");
      expect(errors.trickle).toBe("timeout after 1000ms");
      expect(errors.reset).toStartWith("network:");
      const hugeAttempt = (await api("GET", `/api/v1/deliveries/${(await deliveriesOf(ids.huge!))[0].id}/attempts`)).body.data[0];
      expect(hugeAttempt.status_code).toBe(200);
      expect(hugeAttempt.response_body).toHaveLength(MAX_BODY);
      const nulAttempt = (await api("GET", `/api/v1/deliveries/${(await deliveriesOf(ids.nul!))[0].id}/attempts`)).body.data[0];
      expect(nulAttempt.response_body).toBe("ok\uFFFD\uFFFD!!");

      const healthy = receiver.received.filter((r) => r.path === healthyPath);
      const distinct = new Set(healthy.map((r) => r.headers["webhook-id"])).size;
      console.log(
        `faults (${mode}): 20 events × 6 webhooks → accepted 20; healthy delivered ${distinct} in ${healthyMs} ms, duplicates ${healthy.length - distinct}; ` +
          `hang/reset/trickle dead after 2 attempts each (${endpoints.hang!.requests()}/${endpoints.reset!.requests()}/${endpoints.trickle!.requests()} requests); 10 MB answers stored as ${MAX_BODY} bytes, NUL bytes as U+FFFD; lost 0`,
      );
      expect({ distinct, duplicates: healthy.length - distinct }).toEqual({ distinct: events.length, duplicates: 0 });
    } finally {
      for (const endpoint of Object.values(endpoints)) endpoint.stop();
    }
  }, 60_000);
});
