// An event the outbox sends to Kafka a second time is still delivered once. Ingest stores an event in
// its PostgreSQL outbox, produces it and then marks it sent; when that mark is lost (PostgreSQL
// restarted just after the broker took the event, or a kill -9), the republisher produces it again,
// and the log holds two copies. The no-loss property found the repeat (seed 1173516855: a batch,
// PostgreSQL restarted twice under it, 9 events received twice): both copies came to the dispatcher
// in one read, the second was looked up before the first's outcome was stored, found nothing, and
// went out again. The copies are made here as ingest and its republisher make them, on a real broker,
// read by a real `hookrelay all` on PostgreSQL, Redis and Kafka, delivering to a real receiver:
//   - two copies in one read (the case the property found);
//   - the republished copy read while the first copy's requests are still held by the receiver;
// each with a webhook that answers 2xx and one that fails a first try (the retry manager's).
// Every event must reach each webhook exactly as often as its answers call for: once, or 500 then 2xx.
import { afterAll, describe, expect, it } from "bun:test";
import { Producer, stringSerializers } from "@platformatic/kafka";
import { encodeEvent, messageKey, REPUBLISHED_HEADER } from "../../src/adapters/kafka/codec.ts";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { PostgresOutbox } from "../../src/adapters/postgres/outbox.ts";
import type { Event } from "../../src/domain/model.ts";
import { adminToken, client, waitFor } from "../helpers/hookrelay.ts";
import { endToEndModes } from "../helpers/modes.ts";
import { type ChildInstance, childInstance } from "../helpers/process.ts";
import { eventIdOf, type Receiver, startReceiver } from "../helpers/receiver.ts";
import { TEST_KAFKA_BROKERS } from "../helpers/services.ts";

const { modes, env: modeEnv } = endToEndModes();
const EVENTS = 20;
const TYPE = "copy.made";

const children: ChildInstance[] = [];
const receivers: Receiver[] = [];
const releases: (() => void)[] = [];
afterAll(() => {
  for (const release of releases.splice(0)) release();
  for (const child of children) child.proc?.kill(9);
  for (const receiver of receivers) receiver.stop();
});

type Case = "in one read" | "while the first is under way";

// Only production has an outbox that sends again; embedded's log stores an event once.
describe.each(modes.filter((m) => m === "production"))("copies of an event in the log (%s)", (mode) => {
  it.each<Case>(["in one read", "while the first is under way"])(
    "a republished copy read %s is finished with the first, never sent again",
    async (when) => {
      const env: Record<string, string> = {
        ...(await modeEnv(mode)),
        HOOKRELAY_KAFKA_REPUBLISH_AFTER: "300ms",
        HOOKRELAY_RETRY_MANAGER_INITIAL_DELAY: "200ms",
        HOOKRELAY_RETRY_MANAGER_JITTER: "0",
        // Every first copy's /ok request held at once, queued (not parked as a slow endpoint's) behind none.
        HOOKRELAY_DISPATCHER_MAX_IN_FLIGHT_PER_WEBHOOK: String(EVENTS),
        HOOKRELAY_DISPATCHER_SLOW_ENDPOINT: "30s",
        HOOKRELAY_DISPATCHER_HTTP_TIMEOUT: "20s",
      };
      const rx = startReceiver();
      receivers.push(rx);
      let held = when === "while the first is under way";
      rx.onPath("/ok", () => (held ? new Promise<Response>((resolve) => releases.push(() => resolve(new Response("ok")))) : new Response("ok")));
      rx.onPath("/fail-first", (req) => {
        const id = eventIdOf(req.body);
        const first = rx.received.filter((r) => r.path === "/fail-first" && eventIdOf(r.body) === id).length === 1;
        return new Response(first ? "not yet" : "ok", { status: first ? 500 : 200 });
      });

      const hr = childInstance({ ...env, HOOKRELAY_OBSERVABILITY_LOG_LEVEL: "error" });
      children.push(hr);
      await hr.start();
      const admin = client(hr.gateway, await adminToken(hr.gateway));
      const customer = `copies-${Math.random().toString(36).slice(2, 8)}`;
      expect((await admin("POST", "/api/v1/customers", { id: customer, name: customer })).status).toBe(201);
      const key = (await admin("POST", `/api/v1/customers/${customer}/api-keys`, { name: "k", scopes: ["webhooks:write", "deliveries:read"] })).body.key as string;
      const api = client(hr.gateway, key);
      for (const path of ["/ok", "/fail-first"]) expect((await api("POST", "/api/v1/webhooks", { url: rx.url(path), event_types: [TYPE] })).status).toBe(201);
      await Bun.sleep(300); // the dispatcher's webhook index sees them

      const now = Date.now();
      const events: Event[] = Array.from({ length: EVENTS }, (_, i) => {
        const id = `evt_copy_${i}`;
        const timestamp = new Date(now).toISOString();
        return { customerId: customer, id, type: TYPE, source: "copies", timestamp, payload: JSON.stringify({ id, type: TYPE, source: "copies", data: { i }, timestamp }), acceptedAt: now };
      });
      const sql = createPool({ url: env.DATABASE_URL!, maxConnections: 2 });
      const producer = new Producer({ bootstrapBrokers: TEST_KAFKA_BROKERS!, clientId: "copies-test", idempotent: true, serializers: stringSerializers });
      const message = (event: Event, republished: boolean) => ({
        topic: env.HOOKRELAY_KAFKA_TOPIC!,
        key: messageKey(event),
        value: encodeEvent(event),
        headers: republished ? { [REPUBLISHED_HEADER]: "1" } : undefined,
      });
      try {
        // Ingest's half: stored in the outbox, produced, and the "sent" mark lost.
        await new PostgresOutbox(sql).record(events);
        if (when === "in one read") {
          // Both copies in one produce request, so the dispatcher reads them together; the outbox
          // row is marked as the republisher would mark it, so it sends no third copy.
          await producer.send({ messages: [...events.map((e) => message(e, false)), ...events.map((e) => message(e, true))] });
          await new PostgresOutbox(sql).markPublished(events);
        } else {
          await producer.send({ messages: events.map((e) => message(e, false)) });
          // The first copies' /ok requests arrive and are held; hookrelay's own republisher sends the
          // second copies (the outbox row is unmarked) and marks them; then the dispatcher has time
          // to read them while the first copies are still under way.
          await waitFor("every first copy's /ok request held", () => releases.length === EVENTS, 20_000, 20);
          await waitFor(
            "the republisher sent the copies again",
            async () => (await sql<{ n: number }[]>`SELECT count(*)::int AS n FROM events WHERE customer_id = ${customer} AND published_at IS NOT NULL`)[0]!.n === EVENTS,
            20_000,
            50,
          );
          await Bun.sleep(1_000);
          expect(rx.received.filter((r) => r.path === "/ok")).toHaveLength(EVENTS); // nothing sent twice while held
          held = false;
          for (const release of releases.splice(0)) release();
        }

        await waitFor(
          "every delivery stored succeeded",
          async () => {
            const page = await api("GET", "/api/v1/deliveries?limit=1000");
            return page.body?.data?.length === 2 * EVENTS && page.body.data.every((d: { status: string }) => d.status === "succeeded");
          },
          30_000,
          100,
        );
        await Bun.sleep(1_000); // a late repeat, if any, arrives now
        const counts = rx.counts();
        const wrong = events.flatMap((e) => {
          const ok = counts.get(`/ok ${e.id}`) ?? 0;
          const failFirst = counts.get(`/fail-first ${e.id}`) ?? 0;
          return ok === 1 && failFirst === 2 ? [] : [`${e.id}: /ok ${ok} requests (1 expected), /fail-first ${failFirst} (2 expected)`];
        });
        expect(wrong).toEqual([]);
      } finally {
        await producer.close();
        await sql.end();
      }
    },
    90_000,
  );
});
