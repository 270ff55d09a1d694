// A dispatcher reads ahead of its committed position only as far as dispatcher.max_pending_bytes of
// event payloads (and max_pending_events events): a backlog of large events stays on disk, not in
// memory. Seen at a real receiver that holds every request: the requests in flight to one webhook
// stop at what the byte budget lets the dispatcher hold, below max_in_flight_per_webhook, and once
// the receiver answers, every event is delivered once.
import { afterAll, describe, expect, it } from "bun:test";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const EVENTS = 30;
const PAD = 20_000;
/** Five events of a little over 20,000 bytes reach it: the sixth is not read while they are held. */
const BUDGET = 100_000;

/** A receiver that holds every request until `release()`, counting those in flight. */
function holdingReceiver() {
  let open: () => void = () => {};
  let gate = new Promise<void>((resolve) => (open = resolve));
  const state = { active: 0, peak: 0, perEvent: new Map<string, number>() };
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 60,
    async fetch(request) {
      const body = (await request.json()) as { id: string };
      state.perEvent.set(body.id, (state.perEvent.get(body.id) ?? 0) + 1);
      state.active++;
      state.peak = Math.max(state.peak, state.active);
      await gate;
      state.active--;
      return new Response("ok");
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}/hook`,
    state,
    release: () => open(),
    stop: () => {
      open();
      gate = Promise.resolve();
      server.stop(true);
    },
  };
}

describe.each(MODES)("read-ahead bounded by payload bytes (%s)", (mode) => {
  const instances: Instance[] = [];
  const receivers: { stop(): void }[] = [];
  afterAll(async () => {
    for (const r of receivers) r.stop();
    for (const hr of instances) await hr.stop().catch(() => {});
  });

  it(`holds at most dispatcher.max_pending_bytes (${BUDGET}) of events in memory, then delivers the rest once there is room`, async () => {
    const rx = holdingReceiver();
    receivers.push(rx);
    const hr = await startInProcess({
      ...(await modeEnv(mode)),
      HOOKRELAY_DISPATCHER_MAX_PENDING_BYTES: String(BUDGET),
      HOOKRELAY_DISPATCHER_READ_BATCH: "1",
      HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: "16",
      HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "30s",
    });
    instances.push(hr);
    const token = await adminToken(hr.gateway);
    const api = client(hr.gateway, token);
    expect((await api("POST", "/api/v1/webhooks", { url: rx.url, event_types: ["big.event"] })).status).toBe(201);

    const pad = "x".repeat(PAD);
    const events = Array.from({ length: EVENTS }, (_, i) => ({ id: `evt_big_${mode}_${i}`, type: "big.event", source: "t", data: { i, pad } }));
    const res = await client(hr.ingest, token)("POST", "/events/batch", { events });
    expect(res.status).toBe(202);
    expect(res.body.accepted).toBe(EVENTS);

    await waitFor("the first requests held at the receiver", () => rx.state.active >= 5, 20_000, 20);
    await Bun.sleep(1500); // time to read further, if the budget did not stop it
    console.log(`read-ahead (${mode}): ${rx.state.active} requests held of ${EVENTS} events (${PAD}-byte pads, budget ${BUDGET} bytes, 16 slots)`);
    expect(rx.state.peak).toBe(5);

    rx.release();
    await waitFor(`all ${EVENTS} events delivered`, () => rx.state.perEvent.size === EVENTS, 30_000, 50);
    await Bun.sleep(300);
    expect([...rx.state.perEvent.values()].every((n) => n === 1)).toBe(true);
  }, 60_000);
});
