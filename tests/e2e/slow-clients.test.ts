// Clients that trickle request bodies cannot take the process's file descriptors (SECURITY.md):
// hundreds of connections sending one byte every 500 ms from one IP, over real loopback sockets
// against a child `hookrelay all` (its own descriptors and event loop). At most
// security.max_connections_per_ip of them are held, the rest are refused with 429 at once and
// closed; the held ones get 408 once security.body_timeout has passed and are closed; a normal
// ingest from another address stays fast meanwhile; bodies nobody reads close at once; nothing
// stays counted after the clients go. Embedded only: this edge (Bun.serve, the admission in
// onRequest, readJson's deadline) runs before any backend is touched, the same code in both
// deployments.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import net from "node:net";
import { adminToken } from "../helpers/hookrelay.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";

const CAP = 300;
const SLOW = 600;
const BODY_TIMEOUT_MS = 2000;
/** Where the slow clients connect from: another loopback address than the well-behaved client's 127.0.0.1. */
const SLOW_IP = "127.0.0.2";

let hr: ChildInstance;
let token: string;

beforeAll(async () => {
  // Started with a low soft limit on open files: Bun raises it to the hard limit itself.
  hr = childInstance({ HOOKRELAY_SECURITY_BODY_TIMEOUT: `${BODY_TIMEOUT_MS}ms`, HOOKRELAY_SECURITY_MAX_CONNECTIONS_PER_IP: String(CAP) }, [
    "sh",
    "-c",
    "ulimit -Sn 1024 && exec bun src/cli/main.ts all",
  ]);
  await hr.start();
  token = await adminToken(hr.gateway);
});
afterAll(() => hr?.proc?.kill(9));

interface Outcome {
  status: number;
  body: string;
  /** Since connecting: the first byte of the answer, and the close. */
  answeredMs: number;
  closedMs: number;
  /** Who closed: the server (an answer then end), or this side. */
  closedByServer: boolean;
}

interface Slow {
  socket: net.Socket;
  outcome: Promise<Outcome>;
}

/** A request (POST unless told) whose head is sent at once and whose body trickles one byte every `everyMs`. */
function slowPost(url: string, options: { auth?: string; bytes?: number; everyMs?: number; from?: string; method?: string } = {}): Slow {
  const { auth, bytes = 200, everyMs = 500, from = SLOW_IP, method = "POST" } = options;
  const target = new URL(url);
  const socket = net.connect({ host: target.hostname, port: Number(target.port), localAddress: from });
  const t0 = performance.now();
  let answeredMs = -1;
  let received = "";
  let ended = false;
  const outcome = new Promise<Outcome>((resolve) => {
    let timer: Timer | undefined;
    socket.on("connect", () => {
      socket.write(
        `${method} ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\n${auth ? `Authorization: Bearer ${auth}\r\n` : ""}Content-Type: application/json\r\nContent-Length: ${bytes}\r\n\r\n`,
      );
      let sent = 0;
      timer = setInterval(() => {
        if (sent < bytes && !socket.destroyed) socket.write(sent++ === 0 ? "{" : " ");
      }, everyMs);
    });
    socket.on("data", (chunk) => {
      if (answeredMs < 0) answeredMs = performance.now() - t0;
      received += chunk.toString();
    });
    socket.on("end", () => (ended = true));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearInterval(timer);
      const status = Number(received.match(/^HTTP\/1\.1 (\d{3})/)?.[1] ?? 0);
      resolve({ status, body: received.slice(received.indexOf("\r\n\r\n") + 4), answeredMs, closedMs: performance.now() - t0, closedByServer: ended });
    });
  });
  return { socket, outcome };
}

async function ingestOnce(i: number): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  const res = await fetch(`${hr.ingest}/events`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
    body: JSON.stringify({ id: `calm-${i}-${Math.random()}`, type: "t", source: "s", data: { i } }),
  });
  await res.arrayBuffer();
  return { status: res.status, ms: performance.now() - t0 };
}

const openFds = (pid: number) => readdirSync(`/proc/${pid}/fd`).length;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, min: Math.round(sorted[0]!), p50: Math.round(sorted[Math.floor(sorted.length / 2)]!), max: Math.round(sorted.at(-1)!) };
};

describe("slow clients", () => {
  it("holds at most max_connections_per_ip slow bodies from one IP, refuses the rest at once, answers the held ones 408 at the deadline, and a normal ingest stays fast", async () => {
    const baseline = openFds(hr.proc.pid);
    const slow = Array.from({ length: SLOW }, () => slowPost(`${hr.ingest}/events`, { auth: token }));
    // The refusals come while the held ones are still trickling.
    await Bun.sleep(700);
    const heldFds = openFds(hr.proc.pid) - baseline;
    const latencies: number[] = [];
    for (let i = 0; i < 20; i++) {
      const answer = await ingestOnce(i);
      expect(answer.status).toBe(202);
      latencies.push(answer.ms);
    }
    const outcomes = await Promise.all(slow.map((s) => s.outcome));
    const refused = outcomes.filter((o) => o.status === 429);
    const timedOut = outcomes.filter((o) => o.status === 408);
    const figures = {
      slow_connections: SLOW,
      cap: CAP,
      refused_429: refused.length,
      answered_408: timedOut.length,
      other: outcomes.filter((o) => o.status !== 429 && o.status !== 408).map((o) => o.status),
      "429 answered after ms": summary(refused.map((o) => o.answeredMs)),
      "408 answered after ms": summary(timedOut.map((o) => o.answeredMs)),
      "server fds held while trickling (beyond baseline)": heldFds,
      "normal ingest ms meanwhile": summary(latencies),
    };
    console.log("slow bodies:", JSON.stringify(figures));
    expect(refused.length).toBe(SLOW - CAP);
    expect(timedOut.length).toBe(CAP);
    expect(JSON.parse(refused[0]!.body).error.code).toBe("too_many_connections");
    expect(JSON.parse(timedOut[0]!.body)).toEqual({ error: { code: "request_timeout", message: `the request body did not arrive within ${BODY_TIMEOUT_MS} ms` } });
    // Refused at once and closed by the server; the held ones answered at the deadline, then closed by it.
    expect(figures["429 answered after ms"].max).toBeLessThan(1000);
    expect(refused.every((o) => o.closedByServer)).toBe(true);
    expect(figures["408 answered after ms"].min).toBeGreaterThanOrEqual(BODY_TIMEOUT_MS - 50);
    expect(figures["408 answered after ms"].max).toBeLessThan(BODY_TIMEOUT_MS + 1500);
    expect(timedOut.every((o) => o.closedByServer && o.closedMs - o.answeredMs < 500)).toBe(true);
    // Past the cap, connections cost the server nothing lasting: it held about CAP, not SLOW.
    expect(heldFds).toBeLessThan(CAP + 50);
    expect(figures["normal ingest ms meanwhile"].max).toBeLessThan(200);
  });

  it("answers a slow body it does not read (no credentials, unknown route, /health) at once and closes the connection", async () => {
    const slow = [...Array.from({ length: 100 }, () => slowPost(`${hr.ingest}/events`)), slowPost(`${hr.ingest}/nowhere`, { auth: token }), slowPost(`${hr.gateway}/health`, { method: "GET" })];
    const outcomes = await Promise.all(slow.map((s) => s.outcome));
    console.log("unread slow bodies:", JSON.stringify({ statuses: [...new Set(outcomes.map((o) => o.status))], "closed after ms": summary(outcomes.map((o) => o.closedMs)) }));
    expect(outcomes.slice(0, 100).every((o) => o.status === 401)).toBe(true);
    expect(outcomes[100]!.status).toBe(404);
    expect(outcomes[101]!.status).toBe(200);
    expect(outcomes.every((o) => o.closedByServer && o.closedMs < 1000)).toBe(true);
  });

  it("counts nothing after the clients go: slow bodies abandoned mid-way free their places", async () => {
    for (let round = 0; round < 2; round++) {
      const slow = Array.from({ length: CAP }, () => slowPost(`${hr.ingest}/events`, { auth: token }));
      await Bun.sleep(500);
      for (const s of slow) s.socket.destroy();
      const outcomes = await Promise.all(slow.map((s) => s.outcome));
      // None was refused: the previous round's (and test's) requests were all released.
      expect(outcomes.filter((o) => o.status === 429).length).toBe(0);
      await Bun.sleep(200);
    }
    // One more at the cap's edge is still admitted.
    const last = slowPost(`${hr.ingest}/events`, { auth: token });
    await Bun.sleep(300);
    last.socket.destroy();
    expect((await last.outcome).status).toBe(0);
  });

  it("runs with the open-files soft limit raised to the hard limit, though started at 1024", () => {
    const line = readFileSync(`/proc/${hr.proc.pid}/limits`, "utf8")
      .split("\n")
      .find((l) => l.startsWith("Max open files"))!;
    const [soft, hard] = line.replace("Max open files", "").trim().split(/\s+/);
    console.log(`open files limit of the child: soft ${soft}, hard ${hard}`);
    expect(soft).toBe(hard!);
  });
});
