// Load shedding over real sockets, in both deployments: with more events arriving than ingest can
// store at once (security.max_pending_events), an event POST is refused with 503, Retry-After and
// the error shape before its body is read, on the same kept-alive connection (no close), and
// every id eventually accepted reaches the webhook once: nothing refused is half-taken, nothing
// accepted is lost.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { connect } from "node:net";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { eventIdOf, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

interface RawAnswer {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends each body in turn down one kept-alive connection, the next once the answer to the last is in. */
async function oneConnection(url: string, token: string, bodies: string[]): Promise<{ answers: RawAnswer[]; closedByServer: boolean }> {
  const { hostname, port, pathname } = new URL(url);
  const socket = connect(Number(port), hostname);
  let raw = "";
  let closedByServer = false;
  socket.on("data", (chunk) => (raw += chunk.toString("latin1")));
  socket.on("end", () => (closedByServer = true));
  await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
  const answers: RawAnswer[] = [];
  for (const body of bodies) {
    socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    let answer: RawAnswer | null = null;
    await waitFor(
      "an answer on the kept-alive connection",
      () => {
        const headEnd = raw.indexOf("\r\n\r\n");
        if (headEnd < 0) return closedByServer;
        const [statusLine, ...lines] = raw.slice(0, headEnd).split("\r\n");
        const headers = new Map(lines.map((l) => [l.slice(0, l.indexOf(":")).toLowerCase(), l.slice(l.indexOf(":") + 1).trim()] as [string, string]));
        const length = Number(headers.get("content-length") ?? 0);
        if (headEnd + 4 + length > raw.length) return closedByServer;
        answer = { status: Number(statusLine!.split(" ")[1]), headers, body: raw.slice(headEnd + 4, headEnd + 4 + length) };
        raw = raw.slice(headEnd + 4 + length);
        return true;
      },
      20_000,
      1,
    );
    if (!answer) break;
    answers.push(answer);
  }
  socket.end();
  return { answers, closedByServer };
}

describe.each(MODES)("load shedding (%s)", (mode) => {
  let hr: Instance;
  let token: string;
  const receiver = startReceiver();
  const run = Math.random().toString(36).slice(2, 8);

  beforeAll(async () => {
    hr = await startInProcess({
      ...(await modeEnv(mode)),
      // One event waiting to be stored at a time: any two at once and the second is shed.
      HOOKRELAY_SECURITY_MAX_PENDING_EVENTS: "1",
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_IP: "0",
      HOOKRELAY_SECURITY_RATE_LIMIT_INGEST_PER_CUSTOMER: "0",
    });
    token = await adminToken(hr.gateway);
    const created = await client(hr.gateway, token)("POST", "/api/v1/webhooks", { url: receiver.url("/shed"), event_types: ["shed.test"] });
    expect(created.status).toBe(201);
  });
  afterAll(async () => {
    await hr.stop();
    receiver.stop();
  });

  it("answers 503 + Retry-After at once on the same connection, and takes every refused event when it is sent again", async () => {
    const event = (n: number) => JSON.stringify({ id: `shed-${run}-${n}`, type: "shed.test", source: "t", data: { n } });
    const ids = Array.from({ length: 120 }, (_, n) => n);
    // Eight connections, 15 events one after another on each (Bun closes a connection whose client
    // pipelines requests with bodies, so no client of hookrelay can do that).
    const rounds = await Promise.all([0, 1, 2, 3, 4, 5, 6, 7].map((c) => oneConnection(`${hr.ingest}/events`, token, ids.slice(c * 15, c * 15 + 15).map(event))));
    const answers = rounds.flatMap((r) => r.answers);
    expect(rounds.filter((r) => r.closedByServer)).toEqual([]);
    expect(answers).toHaveLength(120);
    const shed = answers.filter((a) => a.status === 503);
    expect(answers.every((a) => a.status === 202 || a.status === 503)).toBe(true);
    expect(shed.length).toBeGreaterThan(0);
    for (const answer of shed) {
      expect(answer.headers.get("retry-after")).toBe("1");
      expect(answer.headers.get("connection")).not.toBe("close");
      expect(JSON.parse(answer.body)).toEqual({ error: { code: "unavailable", message: expect.stringMatching(/^ingest is at capacity/) } });
    }
    // Each refused event, sent again one at a time (nothing else pending), is accepted as new: the refusal took nothing.
    const ingest = client(hr.ingest, token);
    const refused = rounds.flatMap((r, c) => r.answers.map((a, i) => (a.status === 503 ? c * 15 + i : -1))).filter((n) => n >= 0);
    for (const n of refused) expect((await ingest("POST", "/events", JSON.parse(event(n)))).status).toBe(202);
    await waitFor("every event at the webhook", () => new Set(receiver.received.map((r) => eventIdOf(r.body))).size === 120, 60_000);
    const counts = new Map<string, number>();
    for (const { body } of receiver.received) counts.set(eventIdOf(body), (counts.get(eventIdOf(body)) ?? 0) + 1);
    expect([...counts.values()].every((n) => n === 1)).toBe(true);
  }, 90_000);

  it("keeps the management API open while ingest sheds", async () => {
    const api = client(hr.gateway, token);
    const burst = Array.from({ length: 40 }, (_, n) => client(hr.ingest, token)("POST", "/events", { id: `mgmt-${run}-${n}`, type: "none", source: "t", data: {} }));
    const created = await api("POST", "/api/v1/webhooks", { url: receiver.url("/other"), event_types: ["other.test"] });
    expect(created.status).toBe(201);
    const statuses = (await Promise.all(burst)).map((r) => r.status);
    expect(statuses.every((s) => s === 202 || s === 503)).toBe(true);
  });
});
