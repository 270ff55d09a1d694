/**
 * @module The EventLog contract: every adapter (SQLite now, Kafka later) runs this suite.
 * Ordering is asserted per partition, since a partitioned log only orders within one.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import fc from "fast-check";
import type { Event } from "../../src/domain/model.ts";
import type { EventConsumer, EventLog, LoggedEvent } from "../../src/domain/ports.ts";
import { expectedOutcomes, ingestStep, typeOf } from "../helpers/ingest-sequences.ts";

export interface EventLogFixture {
  log: EventLog;
  close(): Promise<void>;
}

/** A fixed instant, so nothing in the events depends on the clock. */
export const T0 = Date.UTC(2026, 0, 15, 12, 0, 0);

/** An event as ingest builds it: the payload is the exact delivery body. */
export function makeEvent(customerId: string, id: string, type = "order.created", data: unknown = { id }): Event {
  const timestamp = new Date(T0).toISOString();
  return {
    customerId,
    id,
    type,
    source: "contract-tests",
    timestamp,
    payload: JSON.stringify({ id, type, source: "contract-tests", data, timestamp }),
    acceptedAt: T0,
  };
}

/** The ids that must be read again after a restart: per partition, the first unacked event and everything after it. */
function expectedAfterRestart(read: LoggedEvent[], acked: Set<string>): string[] {
  const byPartition = new Map<number, LoggedEvent[]>();
  for (const event of read) byPartition.set(event.partition, [...(byPartition.get(event.partition) ?? []), event]);
  const again: string[] = [];
  for (const events of byPartition.values()) {
    events.sort((a, b) => a.position - b.position);
    const first = events.findIndex((e) => !acked.has(e.id));
    if (first >= 0) again.push(...events.slice(first).map((e) => e.id));
  }
  return again.sort();
}

/** Polls until `count` events arrived or nothing more comes. */
async function pollAll(consumer: EventConsumer, count: number, waitMs = 200): Promise<LoggedEvent[]> {
  const events: LoggedEvent[] = [];
  for (let round = 0; round < 50 && events.length < count; round++) {
    const batch = await consumer.poll(count - events.length, waitMs);
    if (batch.length === 0 && round > 0) break;
    events.push(...batch);
  }
  return events;
}

/** Asserts that, in every partition, events come in the order they were appended. */
function expectAppendOrder(read: LoggedEvent[], appended: Event[]): void {
  const rank = new Map(appended.map((e, i) => [e.id, i]));
  const byPartition = new Map<number, LoggedEvent[]>();
  for (const event of read) byPartition.set(event.partition, [...(byPartition.get(event.partition) ?? []), event]);
  for (const events of byPartition.values()) {
    const ranks = events.map((e) => rank.get(e.id)!);
    expect(ranks).toEqual([...ranks].sort((a, b) => a - b));
    const positions = events.map((e) => e.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
    expect(new Set(positions).size).toBe(positions.length);
  }
}

/**
 * Runs the EventLog contract. `makeLog` is called once per test and must return an empty
 * log (fresh database, topic or prefix): lag and read positions are global to a log.
 */
export function describeEventLogContract(name: string, makeLog: () => Promise<EventLogFixture>): void {
  describe(`EventLog contract: ${name}`, () => {
    let fixture: EventLogFixture;
    let log: EventLog;
    const consumers: EventConsumer[] = [];
    /** A consumer closed after the test, so no commit timer outlives it. */
    const consumer = (group: string) => {
      const c = log.consumer(group);
      consumers.push(c);
      return c;
    };

    beforeEach(async () => {
      fixture = await makeLog();
      log = fixture.log;
    });

    afterEach(async () => {
      for (const c of consumers.splice(0)) await c.close();
      await fixture.close();
    });

    it("answers ping", async () => {
      await log.ping();
    });

    it("accepts new events and calls a repeated (customer, id) a duplicate", async () => {
      expect(await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_2")])).toEqual(["accepted", "accepted"]);
      expect(await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_3")])).toEqual(["duplicate", "accepted"]);
      const read = await pollAll(consumer("g"), 10);
      expect(read.map((e) => e.id).sort()).toEqual(["evt_1", "evt_2", "evt_3"]);
    });

    it("calls a duplicate within one append call a duplicate and keeps the event once", async () => {
      const outcomes = await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_1"), makeEvent("acme", "evt_2")]);
      expect(outcomes).toEqual(["accepted", "duplicate", "accepted"]);
      const read = await pollAll(consumer("g"), 10);
      expect(read.map((e) => e.id).sort()).toEqual(["evt_1", "evt_2"]);
    });

    it("accepts exactly one of concurrent appends of the same event", async () => {
      const outcomes = await Promise.all([log.append([makeEvent("acme", "evt_same")]), log.append([makeEvent("acme", "evt_same")]), log.append([makeEvent("acme", "evt_same")])]);
      expect(outcomes.flat().sort()).toEqual(["accepted", "duplicate", "duplicate"]);
    });

    it("keeps events of different customers with the same id apart", async () => {
      expect(await log.append([makeEvent("acme", "evt_1"), makeEvent("globex", "evt_1")])).toEqual(["accepted", "accepted"]);
      const read = await pollAll(consumer("g"), 10);
      expect(read.map((e) => `${e.customerId}/${e.id}`).sort()).toEqual(["acme/evt_1", "globex/evt_1"]);
    });

    it("hands out events with every field intact, the payload byte for byte", async () => {
      const event = makeEvent("acme", "evt_fields", "invoice.paid", { amount: 12.5, note: "ünïcödé ✓", nested: { a: [1, 2] } });
      await log.append([event]);
      const [read] = await pollAll(consumer("g"), 1);
      expect(read).toBeDefined();
      expect(read!).toMatchObject(event);
      expect(read!.payload).toBe(event.payload);
      expect(typeof read!.position).toBe("number");
      expect(typeof read!.partition).toBe("number");
    });

    it("polls events in the order they were appended, each once, at most max at a time", async () => {
      const events = Array.from({ length: 7 }, (_, i) => makeEvent("acme", `evt_${i}`));
      await log.append(events.slice(0, 3));
      await log.append(events.slice(3));
      const c = consumer("g");
      const first = await c.poll(2, 200);
      expect(first.length).toBeLessThanOrEqual(2);
      expect(first.length).toBeGreaterThan(0);
      const rest = await pollAll(c, 7 - first.length);
      const read = [...first, ...rest];
      expect(read.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
      expectAppendOrder(read, events);
      expect(await c.poll(10, 0)).toEqual([]);
    });

    it("reads the log again from the start in another consumer group", async () => {
      await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_2")]);
      const a = consumer("group-a");
      const readA = await pollAll(a, 2);
      for (const event of readA) a.ack(event);
      await a.close();
      const readB = await pollAll(consumer("group-b"), 2);
      expect(readB.map((e) => e.id).sort()).toEqual(["evt_1", "evt_2"]);
    });

    it("after close, a new consumer of the group re-reads exactly the unacked events and the ones after them", async () => {
      const events = Array.from({ length: 6 }, (_, i) => makeEvent("acme", `evt_${i}`));
      await log.append(events);
      const first = consumer("g");
      const read = await pollAll(first, 6);
      expect(read).toHaveLength(6);
      const sorted = [...read].sort((a, b) => a.partition - b.partition || a.position - b.position);
      // Ack the first two of the log, skip the third, ack the fourth: only the prefix is finished.
      const acked = new Set([sorted[0]!.id, sorted[1]!.id, sorted[3]!.id]);
      for (const event of read) if (acked.has(event.id)) first.ack(event);
      await first.close();

      const second = consumer("g");
      const again = await pollAll(second, 6);
      expect(again.map((e) => e.id).sort()).toEqual(expectedAfterRestart(read, acked));
      expect(again.map((e) => e.id)).not.toContain(sorted[0]!.id);
      expect(again.map((e) => e.id)).toContain(sorted[2]!.id);

      // Events appended later come after them.
      await log.append([makeEvent("acme", "evt_later")]);
      const later = await pollAll(second, 1);
      expect(later.map((e) => e.id)).toEqual(["evt_later"]);
    });

    it("after every event is acked and the consumer closed, a new consumer reads only new events", async () => {
      await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_2"), makeEvent("acme", "evt_3")]);
      const first = consumer("g");
      for (const event of await pollAll(first, 3)) first.ack(event);
      await first.close();
      const second = consumer("g");
      expect(await second.poll(10, 50)).toEqual([]);
      await log.append([makeEvent("acme", "evt_4")]);
      expect((await pollAll(second, 1)).map((e) => e.id)).toEqual(["evt_4"]);
    });

    // The dispatcher skips the stored-delivery look-up for a first read: one wrongly marked would
    // be sent from the log again while the retry manager owns it.
    it("marks an event first read only when no reader of the group can have had it", async () => {
      const recent = (id: string) => ({ ...makeEvent("acme", id), acceptedAt: Date.now() });
      await log.append([recent("evt_before")]);
      const first = consumer("g");
      const [before] = await pollAll(first, 1);
      expect(before!.firstRead).toBeFalsy(); // in the log before the reader began
      first.ack(before!);
      // Appended once the reader runs (a log that learns where it began a moment later may
      // still call the first ones maybe-read: the safe side).
      let fresh: LoggedEvent | undefined;
      for (let i = 0; i < 20; i++) {
        await log.append([recent(`evt_new_${i}`)]);
        [fresh] = await pollAll(first, 1);
        if (fresh?.firstRead) break;
        if (fresh) first.ack(fresh);
        await Bun.sleep(100);
      }
      expect(fresh?.firstRead).toBe(true);
      await first.close(); // the fresh event unacked: read again by the next reader

      const second = consumer("g");
      const again = await pollAll(second, 1);
      expect(again.map((e) => e.id)).toEqual([fresh!.id]);
      expect(again[0]!.firstRead).toBeFalsy();
    });

    it("re-reads everything when the consumer closes without acking", async () => {
      await log.append([makeEvent("acme", "evt_1"), makeEvent("acme", "evt_2")]);
      const first = consumer("g");
      expect(await pollAll(first, 2)).toHaveLength(2);
      await first.close();
      expect((await pollAll(consumer("g"), 2)).map((e) => e.id).sort()).toEqual(["evt_1", "evt_2"]);
    });

    it("counts lag from the committed position: polled is not finished, an acked prefix is", async () => {
      const events = Array.from({ length: 5 }, (_, i) => makeEvent("acme", `evt_${i}`));
      const c = consumer("g");
      expect(await c.lag()).toBe(0);
      await log.append(events);
      expect(await c.lag()).toBe(5);
      const read = await pollAll(c, 5);
      expect(await c.lag()).toBe(5);
      const sorted = [...read].sort((a, b) => a.partition - b.partition || a.position - b.position);
      c.ack(sorted[0]!);
      c.ack(sorted[1]!);
      expect(await c.lag()).toBe(3);
      for (const event of read) c.ack(event);
      expect(await c.lag()).toBe(0);
      expect(await consumer("other").lag()).toBe(5);
    });

    it("property: generated appends (ids repeated across and within batches, several customers) are accepted once, read once in order, and re-read from the first unacked after a restart", async () => {
      let appended = 0;
      let run = 0;
      await fc.assert(
        fc.asyncProperty(fc.array(ingestStep, { minLength: 1, maxLength: 8 }), fc.array(fc.boolean(), { maxLength: 60 }), async (sequence, ackMask) => {
          const tag = `r${++run}`;
          // One namespace per customer, and ids unique in the log, so reads can be told apart by id.
          const customerOf = (c: number) => `${tag}-c${c}`;
          const eventOf = (c: number, id: string) => makeEvent(customerOf(c), `${customerOf(c)}.${id}`, typeOf(id));
          const batches = sequence.map((step) => step.ids.map((id) => eventOf(step.customer, id)));
          const expected = expectedOutcomes(batches.map((events) => events.map((e) => e.id)));
          for (const [i, events] of batches.entries()) expect(await log.append(events)).toEqual(expected[i]!);
          const accepted = batches.flatMap((events, i) => events.filter((_, j) => expected[i]![j] === "accepted"));
          appended += accepted.length;

          const group = `prop-${tag}`;
          const first = consumer(group);
          const read = await pollAll(first, appended);
          const mine = read.filter((e) => e.customerId.startsWith(`${tag}-`));
          expect(mine.map((e) => e.id).sort()).toEqual(accepted.map((e) => e.id).sort());
          expectAppendOrder(mine, accepted);
          // Earlier runs' events all acked; this run's as the mask says. The next reader of the group
          // starts at the first unacked event of each partition.
          const acked = new Set(read.filter((e, i) => !e.customerId.startsWith(`${tag}-`) || ackMask[i % Math.max(1, ackMask.length)]).map((e) => e.id));
          for (const event of read) if (acked.has(event.id)) first.ack(event);
          await first.close();
          const again = await pollAll(consumer(group), appended);
          expect(again.map((e) => e.id).sort()).toEqual(expectedAfterRestart(read, acked));
        }),
        { numRuns: 15, seed: Number(process.env.HOOKRELAY_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
      );
    }, 120_000);

    it("waits up to waitMs when there is nothing to read", async () => {
      const c = consumer("g");
      const started = performance.now();
      expect(await c.poll(10, 150)).toEqual([]);
      const waited = performance.now() - started;
      expect(waited).toBeGreaterThanOrEqual(120);
      expect(waited).toBeLessThan(5000);
    });

    it("returns from a waiting poll as soon as an event is appended", async () => {
      const c = consumer("g");
      const started = performance.now();
      const polling = c.poll(10, 10_000);
      setImmediate(() => void log.append([makeEvent("acme", "evt_wake")]));
      const read = await polling;
      expect(performance.now() - started).toBeLessThan(5000);
      expect(read.map((e) => e.id)).toEqual(["evt_wake"]);
    });
  });
}
