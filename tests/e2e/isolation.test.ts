// One endpoint that hangs must not delay deliveries to a healthy one.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { type Instance, adminToken, client, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { type Receiver, startReceiver } from "../helpers/receiver.ts";

const EVENTS = 300;

let hr: Instance;
let receiver: Receiver;
let api: ReturnType<typeof client>;

beforeAll(async () => {
  hr = await startInProcess({ HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "30s", HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "500ms" });
  receiver = startReceiver();
  api = client(hr.gateway, await adminToken(hr.gateway));
});

afterAll(async () => {
  receiver.stop();
  await hr.stop();
});

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Sends EVENTS events of `type` in batches of 50 and returns ingest→receipt latencies at `path`. */
async function latencies(type: string, path: string): Promise<number[]> {
  const sentAt = new Map<string, number>();
  for (let i = 0; i < EVENTS; i += 50) {
    const events = Array.from({ length: 50 }, (_, j) => ({ id: `${type}_${i + j}`, type, source: "t", data: {} }));
    const now = Date.now();
    for (const e of events) sentAt.set(e.id, now);
    expect((await api("POST", "/api/v1/events/batch", { events })).status).toBe(202);
    await Bun.sleep(20);
  }
  const mine = () => receiver.received.filter((r) => r.path === path && sentAt.has(r.headers["webhook-id"]!));
  await waitFor(`${EVENTS} deliveries to ${path}`, () => mine().length >= EVENTS, 20_000);
  return mine().map((r) => r.at - sentAt.get(r.headers["webhook-id"]!)!);
}

describe("isolation", () => {
  it("keeps a healthy webhook's latency while another hangs for 60 s", async () => {
    receiver.onPath("/hang", () => Bun.sleep(60_000).then(() => new Response("late")));
    await api("POST", "/api/v1/webhooks", { url: receiver.url("/healthy"), event_types: ["baseline", "mixed"] });
    const baseline = await latencies("baseline", "/healthy");

    await api("POST", "/api/v1/webhooks", { url: receiver.url("/hang"), event_types: ["mixed"] });
    const started = Date.now();
    const withHang = await latencies("mixed", "/healthy");
    const elapsed = Date.now() - started;

    const base99 = percentile(baseline, 99);
    const hang99 = percentile(withHang, 99);
    console.log(
      `isolation: healthy p50/p99 ${percentile(baseline, 50)}/${base99} ms alone, ` +
        `${percentile(withHang, 50)}/${hang99} ms beside a hanging webhook; ${EVENTS} events in ${elapsed} ms`,
    );
    // The hanging endpoint holds its own in-flight slots (8), never the healthy one's.
    expect(receiver.received.filter((r) => r.path === "/hang").length).toBeLessThanOrEqual(8);
    expect(hang99).toBeLessThanOrEqual(Math.max(3 * base99, base99 + 100));
    expect(elapsed).toBeLessThan(10_000);
  });
});
