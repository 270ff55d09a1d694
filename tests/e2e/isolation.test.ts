// One endpoint that hangs must not delay deliveries to a healthy one.
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import { describeConfig } from "../../src/platform/config.ts";
import { adminToken, client, type Instance, startInProcess, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";

const { modes: MODES, env: modeEnv } = endToEndModes();

const EVENTS = 300;
/** The default cap of concurrent requests to one webhook. */
const PER_WEBHOOK = describeConfig().find((k) => k.key === "dispatcher.max_in_flight_per_webhook")!.default as number;

describe.each(MODES)("isolation (%s)", (mode) => {
  let hr: Instance;
  let receiver: Receiver;
  let api: ReturnType<typeof client>;

  beforeAll(async () => {
    hr = await startInProcess({ ...(await modeEnv(mode)), HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "30s", HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "500ms" });
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
    const mine = () => receiver.received.filter((r) => r.path === path && sentAt.has(eventIdOf(r.body)));
    await waitFor(`${EVENTS} deliveries to ${path}`, () => mine().length >= EVENTS, 20_000);
    return mine().map((r) => r.at - sentAt.get(eventIdOf(r.body))!);
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
        `isolation: healthy p50/p99 ${percentile(baseline, 50)}/${base99} ms alone, ` + `${percentile(withHang, 50)}/${hang99} ms beside a hanging webhook; ${EVENTS} events in ${elapsed} ms`,
      );
      // The hanging endpoint holds its own in-flight slots (max_in_flight_per_webhook), never the healthy one's.
      expect(receiver.received.filter((r) => r.path === "/hang").length).toBeLessThanOrEqual(PER_WEBHOOK);
      expect(hang99).toBeLessThanOrEqual(Math.max(3 * base99, base99 + 100));
      expect(elapsed).toBeLessThan(10_000);
    });
  });

  describe("isolation under a small read-ahead", () => {
    it("parks a slow webhook's backlog on the retry schedule so it cannot hold the log, and still delivers all of it", async () => {
      const small = await startInProcess({
        ...(await modeEnv(mode)),
        HOOKRELAY_DISPATCHER_MAX_PENDING_EVENTS: "50",
        HOOKRELAY_DISPATCHER_MAX_QUEUE_WAIT: "500ms",
        HOOKRELAY_DISPATCHER_SLOW_ENDPOINT: "100ms",
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "200ms",
        HOOKRELAY_DISPATCHER_SHUTDOWN_TIMEOUT: "500ms",
      });
      const sink = startReceiver();
      try {
        sink.onPath("/slow", () => Bun.sleep(250).then(() => new Response("ok")));
        const smallApi = client(small.gateway, await adminToken(small.gateway));
        await smallApi("POST", "/api/v1/webhooks", { url: sink.url("/fast"), event_types: ["load"] });
        const slow = await smallApi("POST", "/api/v1/webhooks", { url: sink.url("/slow"), event_types: ["load"] });
        const started = Date.now();
        for (let i = 0; i < 200; i += 50) {
          const events = Array.from({ length: 50 }, (_, j) => ({ id: `load_${i + j}`, type: "load", source: "t", data: {} }));
          expect((await smallApi("POST", "/api/v1/events/batch", { events })).status).toBe(202);
        }
        // Unparked, the slow endpoint (8 × 4/s) would hold the 50-event read-ahead for 6 s and more.
        await waitFor("200 deliveries to the fast webhook", () => sink.received.filter((r) => r.path === "/fast").length >= 200, 20_000);
        const fastDone = Date.now() - started;
        await waitFor("200 deliveries to the slow webhook", () => new Set(sink.received.filter((r) => r.path === "/slow").map((r) => r.headers["webhook-id"])).size >= 200, 60_000);
        const slowDone = Date.now() - started;
        const slowDeliveries = () => smallApi("GET", `/api/v1/deliveries?webhook_id=${slow.body.id}&limit=1000`);
        await waitFor("slow deliveries recorded", async () => (await slowDeliveries()).body.data.every((d: { status: string }) => d.status === "succeeded"), 5_000);
        const parked = await slowDeliveries();
        expect(parked.body.data).toHaveLength(200);
        console.log(`parking: fast webhook done in ${fastDone} ms, slow one in ${slowDone} ms`);
        expect(fastDone).toBeLessThan(4_000);
        expect(parked.body.data.every((d: { status: string }) => d.status === "succeeded")).toBe(true);
        // Parking costs no attempt: each slow delivery took exactly one.
        expect(parked.body.data.every((d: { attempt_count: number }) => d.attempt_count === 1)).toBe(true);
      } finally {
        sink.stop();
        await small.stop();
      }
    }, 90_000);
  });
});
