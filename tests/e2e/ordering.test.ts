// Ordered delivery (`ordering: "fifo"`), in both deployments, over real sockets with a real receiver:
// a webhook's events arrive one at a time in the order ingest accepted them (each sent after the one
// before was answered, some in batches, of two event types: two Kafka partitions in production), and a
// later one waits while an earlier one is retried; queues of different ordering keys do not wait for
// each other; and the order holds across a kill -9 of the process delivering them, with events sent
// while it is down, and (production, the roles as separate processes) while the dispatcher alone is
// killed and started again.
import { afterAll, describe, expect, it } from "bun:test";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, portsAndEnv, spawnRole, startChildWithReceiver } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const cleanups: (() => void)[] = [];
afterAll(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** An endpoint that records what it answered 2xx (in order), how many requests it had at once, and fails the ids it is told to. */
function orderedEndpoint(rx: Receiver, path: string) {
  const delivered: string[] = [];
  const arrivals: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const failuresLeft = new Map<string, number>();
  let failWhile: (id: string) => boolean = () => false;
  rx.onPath(path, async (req) => {
    const id = eventIdOf(req.body);
    arrivals.push(id);
    maxInFlight = Math.max(maxInFlight, ++inFlight);
    await Bun.sleep(2); // long enough for a second request, were one sent, to overlap
    inFlight--;
    const left = failuresLeft.get(id) ?? 0;
    if (left > 0 || failWhile(id)) {
      failuresLeft.set(id, left - 1);
      return new Response("not now", { status: 500 });
    }
    if (!delivered.includes(id)) delivered.push(id);
    return new Response("ok");
  });
  return {
    delivered,
    arrivals,
    maxInFlight: () => maxInFlight,
    failTimes: (id: string, times: number) => failuresLeft.set(id, times),
    failWhile: (check: (id: string) => boolean) => {
      failWhile = check;
    },
  };
}

/** Each id's first arrival comes after every earlier id's last: nothing was sent before the one before it was done. */
function outOfTurn(arrivals: string[], order: string[]): string[] {
  const place = new Map(order.map((id, i) => [id, i]));
  const problems: string[] = [];
  let highest = -1;
  for (const id of arrivals) {
    const at = place.get(id)!;
    if (at < highest) problems.push(`${id} (#${at}) arrived after #${highest}`);
    highest = Math.max(highest, at);
  }
  return problems;
}

describe.each(MODES)("ordered delivery (%s)", (mode) => {
  let hr: ChildInstance;
  let rx: Receiver;
  let api: ReturnType<typeof client>;
  let ingest: ReturnType<typeof client>;

  it("starts", async () => {
    ({ hr, rx, api, ingest } = await startChildWithReceiver(
      {
        ...(await modeEnv(mode)),
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms",
        HOOKRELAY_RETRY_MANAGER_JITTER: "0",
        HOOKRELAY_RETRY_MANAGER_MAX_RETRIES: "8",
        // The delivery under way at a kill comes back when its claim's lease ends (2 min by default), and the rest of its queue waits for it.
        HOOKRELAY_RETRY_MANAGER_LEASE: "3s",
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "2s",
      },
      cleanups,
    ));
  });

  it("refuses an unknown ordering, a bad ordering key, and a key without fifo, naming the field", async () => {
    const create = (extra: object) => api("POST", "/api/v1/webhooks", { url: rx.url("/never"), event_types: ["x"], ...extra });
    const lifo = await create({ ordering: "lifo" });
    expect(lifo.status).toBe(422);
    expect(lifo.body.error.message).toContain("ordering");
    const badKey = await create({ ordering: "fifo", ordering_key: "payload.account" });
    expect(badKey.status).toBe(422);
    expect(badKey.body.error.message).toContain("ordering_key: 'payload.account' must start with one of");
    const noFifo = await create({ ordering_key: "data.account" });
    expect(noFifo.status).toBe(422);
    expect(noFifo.body.error.message).toContain("ordering_key: needs ordering 'fifo'");
  });

  it("delivers one at a time in ingest order, a later event waiting while an earlier one is retried", async () => {
    const endpoint = orderedEndpoint(rx, "/fifo");
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/fifo"), event_types: ["order.created", "order.paid"], ordering: "fifo" });
    expect(created.status).toBe(201);
    expect({ ordering: created.body.ordering, ordering_key: created.body.ordering_key }).toEqual({ ordering: "fifo", ordering_key: null });
    const id = created.body.id;
    expect((await api("GET", `/api/v1/webhooks/${id}`)).body.ordering).toBe("fifo");
    const order: string[] = [];
    endpoint.failTimes("fifo_5", 3);
    endpoint.failTimes("fifo_12", 1);
    endpoint.failTimes("fifo_21", 2);
    const started = Date.now();
    let n = 0;
    const event = () => {
      const eventId = `fifo_${n}`;
      order.push(eventId);
      return { id: eventId, type: n++ % 2 === 0 ? "order.created" : "order.paid", source: "t", data: { n } };
    };
    for (let round = 0; round < 6; round++) {
      // Four one after another (each once the one before is accepted), then a batch of three.
      for (let i = 0; i < 4; i++) expect((await ingest("POST", "/events", event())).status).toBe(202);
      expect((await ingest("POST", "/events/batch", { events: [event(), event(), event()] })).status).toBe(202);
    }
    await waitFor(
      () => `all ${order.length} delivered: ${endpoint.delivered.length} so far (${endpoint.delivered.slice(-3).join(", ")})`,
      () => endpoint.delivered.length === order.length,
      60_000,
    );
    const seconds = (Date.now() - started) / 1000;
    console.log(
      `ordered delivery (${mode}): ${order.length} events, 6 failed attempts, delivered in order in ${seconds.toFixed(1)} s (${(order.length / seconds).toFixed(1)}/s for one queue, with 6 retries at 100 ms); ${endpoint.arrivals.length} requests, at most ${endpoint.maxInFlight()} at once`,
    );
    expect(endpoint.delivered).toEqual(order);
    expect(outOfTurn(endpoint.arrivals, order)).toEqual([]);
    expect(endpoint.maxInFlight()).toBe(1);
    expect(endpoint.arrivals.filter((a) => a === "fifo_5")).toHaveLength(4);
  }, 90_000);

  it("gives each ordering key its own queue: one key's retries do not hold the other's", async () => {
    const endpoint = orderedEndpoint(rx, "/keyed");
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/keyed"), event_types: ["account.changed"], ordering: "fifo", ordering_key: "data.account" });
    expect(created.status).toBe(201);
    expect(created.body.ordering_key).toBe("data.account");
    const sent: Record<string, string[]> = { a: [], b: [] };
    // a's first event fails until b's five are all delivered.
    endpoint.failWhile((eventId) => eventId === "key_a_0" && endpoint.delivered.filter((d) => d.startsWith("key_b")).length < 5);
    for (let i = 0; i < 5; i++)
      for (const account of ["a", "b"]) {
        const eventId = `key_${account}_${i}`;
        sent[account]!.push(eventId);
        expect((await ingest("POST", "/events", { id: eventId, type: "account.changed", source: "t", data: { account, i } })).status).toBe(202);
      }
    await waitFor(
      () => `both keys delivered: ${endpoint.delivered.join(", ")}`,
      () => endpoint.delivered.length === 10,
      60_000,
    );
    const of = (account: string) => endpoint.delivered.filter((d) => d.startsWith(`key_${account}_`));
    expect(of("a")).toEqual(sent.a!);
    expect(of("b")).toEqual(sent.b!);
    // b went through while a's first was still failing.
    expect(endpoint.delivered.indexOf("key_b_4")).toBeLessThan(endpoint.delivered.indexOf("key_a_0"));
    expect(
      outOfTurn(
        endpoint.arrivals.filter((a) => a.startsWith("key_a_")),
        sent.a!,
      ),
    ).toEqual([]);
  }, 90_000);

  it("keeps the order across a kill -9 of the process delivering, with events accepted while it was down", async () => {
    const endpoint = orderedEndpoint(rx, "/restart");
    const created = await api("POST", "/api/v1/webhooks", { url: rx.url("/restart"), event_types: ["step"], ordering: "fifo" });
    expect(created.status).toBe(201);
    const order: string[] = [];
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const eventId = `restart_${order.length}`;
        order.push(eventId);
        expect((await ingest("POST", "/events", { id: eventId, type: "step", source: "t", data: {} })).status).toBe(202);
      }
    };
    endpoint.failTimes("restart_3", 2);
    await send(15);
    await waitFor("a few delivered before the kill", () => endpoint.delivered.length >= 4, 30_000);
    hr.proc.kill(9);
    await hr.proc.exited;
    const deliveredBefore = endpoint.delivered.length;
    await hr.start();
    const token = await adminToken(hr.gateway);
    api = client(hr.gateway, token);
    ingest = client(hr.ingest, token);
    await send(15);
    await waitFor(
      () => `all ${order.length} delivered after the restart: ${endpoint.delivered.length}`,
      () => endpoint.delivered.length === order.length,
      60_000,
    );
    console.log(`ordered delivery (${mode}): killed with ${deliveredBefore} of 15 delivered; after the restart all ${order.length} in order, ${endpoint.arrivals.length} requests`);
    expect(endpoint.delivered).toEqual(order);
    // A request under way at the kill may be sent again, but nothing after it goes before it is done.
    expect(outOfTurn(endpoint.arrivals, order)).toEqual([]);
  }, 120_000);
});

// Production's roles apart: the ordered queues do not depend on a dispatcher at all (the sequencer
// reads the log itself), so events go on in order while the only dispatcher is down, and after it
// comes back (kill -9, then started again).
describe.each(MODES.filter((m) => m === "production"))("ordered delivery with the roles apart (%s)", (mode) => {
  it("keeps the order while the dispatcher is killed and started again", async () => {
    const { ports, env } = portsAndEnv({ ...(await modeEnv(mode)), HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "100ms", HOOKRELAY_RETRY_MANAGER_JITTER: "0", HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error" });
    const start = async (role: keyof typeof ports) => {
      const started = await spawnRole(role, env, ports[role]);
      cleanups.push(() => started.proc.kill(9));
      return started;
    };
    await start("gateway"); // migrates and creates the topic first
    const [, , dispatcher] = await Promise.all([start("ingest"), start("retry"), start("dispatcher")]);
    const rx = startReceiver();
    cleanups.push(() => rx.stop());
    const endpoint = orderedEndpoint(rx, "/apart");
    const token = await adminToken(`http://127.0.0.1:${ports.gateway}`);
    const api = client(`http://127.0.0.1:${ports.gateway}`, token);
    const ingest = client(`http://127.0.0.1:${ports.ingest}`, token);
    expect((await api("POST", "/api/v1/webhooks", { url: rx.url("/apart"), event_types: ["apart.a", "apart.b"], ordering: "fifo" })).status).toBe(201);
    const order: string[] = [];
    const send = async (count: number) => {
      for (let i = 0; i < count; i++) {
        const id = `apart_${order.length}`;
        order.push(id);
        expect((await ingest("POST", "/events", { id, type: i % 2 ? "apart.a" : "apart.b", source: "t", data: {} })).status).toBe(202);
      }
    };
    endpoint.failTimes("apart_2", 2);
    await send(10);
    dispatcher!.proc.kill(9);
    await dispatcher!.proc.exited;
    endpoint.failTimes("apart_12", 1);
    await send(10);
    await waitFor(
      () => `the 20 delivered with the dispatcher down: ${endpoint.delivered.length}`,
      () => endpoint.delivered.length === 20,
      30_000,
    );
    await start("dispatcher");
    await send(10);
    await waitFor(
      () => `all 30 delivered: ${endpoint.delivered.length}`,
      () => endpoint.delivered.length === 30,
      30_000,
    );
    expect(endpoint.delivered).toEqual(order);
    expect(outOfTurn(endpoint.arrivals, order)).toEqual([]);
    expect(endpoint.maxInFlight()).toBe(1);
  }, 120_000);
});
