/**
 * @module Runs the EventLog contract on Kafka (a real KRaft broker) with its PostgreSQL
 * outbox, plus what only Kafka has: partitions shared by a consumer group, and the outbox
 * sending again what Kafka did not take.
 */
import { describe, expect, it } from "bun:test";
import type { KafkaConsumer } from "../../src/adapters/kafka/consumer.ts";
import { KafkaEventLog } from "../../src/adapters/kafka/event-log.ts";
import { createPool } from "../../src/adapters/postgres/client.ts";
import { migrateUp } from "../../src/adapters/postgres/migrations.ts";
import { PostgresOutbox } from "../../src/adapters/postgres/outbox.ts";
import type { LoggedEvent } from "../../src/domain/ports.ts";
import { createLogger } from "../../src/platform/logger.ts";
import { createMetrics } from "../../src/platform/metrics.ts";
import { freshTopic, requireServices, schemaFactory, TEST_DATABASE_URL, TEST_KAFKA_BROKERS } from "../helpers/services.ts";
import { describeEventLogContract, makeEvent } from "./event-log.contract.ts";

if (requireServices("Kafka event log", { HOOKRELAY_TEST_DATABASE_URL: TEST_DATABASE_URL, HOOKRELAY_TEST_KAFKA_BROKERS: TEST_KAFKA_BROKERS })) {
  const freshSchema = schemaFactory(TEST_DATABASE_URL!);
  const log = createLogger("silent");

  /** A Kafka log on a new topic with `partitions`, its outbox in a new schema. */
  async function kafkaLog(partitions = 3, republishAfterMs = 60_000) {
    const { url } = await freshSchema();
    const sql = createPool({ url, maxConnections: 4 });
    await migrateUp(sql);
    const eventLog = new KafkaEventLog(
      { brokers: TEST_KAFKA_BROKERS!, topic: freshTopic(), partitions, clientId: "hr-test", produceTimeoutMs: 5_000, republishAfterMs },
      new PostgresOutbox(sql),
      log,
      createMetrics(),
    );
    await eventLog.ensureTopic();
    return {
      log: eventLog,
      sql,
      close: async () => {
        await eventLog.close();
        await sql.end();
      },
    };
  }

  describeEventLogContract("kafka", () => kafkaLog());

  describe("Kafka event log", () => {
    it("spreads (customer, type) keys over partitions and keeps each key's events in one partition, in order", async () => {
      const fixture = await kafkaLog(4);
      const consumer = fixture.log.consumer("g-order");
      try {
        const events = Array.from({ length: 200 }, (_, i) => makeEvent(`cust-${i % 4}`, `e-${i}`, `type.${i % 5}`));
        await fixture.log.append(events);
        const read = [];
        for (let round = 0; round < 40 && read.length < 200; round++) read.push(...(await consumer.poll(200, 250)));
        expect(read).toHaveLength(200);
        const keyOf = (e: { customerId: string; type: string }) => `${e.customerId}/${e.type}`;
        const partitionsOf = new Map<string, Set<number>>();
        for (const e of read) partitionsOf.set(keyOf(e), (partitionsOf.get(keyOf(e)) ?? new Set()).add(e.partition));
        expect(partitionsOf.size).toBe(20);
        for (const partitions of partitionsOf.values()) expect(partitions.size).toBe(1);
        expect(new Set(read.map((e) => e.partition)).size).toBeGreaterThan(1);
        // One customer's types spread too, so a single large customer scales out.
        expect(new Set(read.filter((e) => e.customerId === "cust-0").map((e) => e.partition)).size).toBeGreaterThan(1);
        for (const key of partitionsOf.keys()) {
          const ids = read.filter((e) => keyOf(e) === key).map((e) => Number(e.id.slice(2)));
          expect(ids).toEqual([...ids].sort((a, b) => a - b));
        }
      } finally {
        await consumer.close();
        await fixture.close();
      }
    });

    it("fails only the append holding an event the outbox refuses; the appends that shared its INSERT are accepted", async () => {
      const fixture = await kafkaLog(1);
      try {
        const bad = { ...makeEvent("acme", "e-nul"), source: "a\u0000b" }; // text PostgreSQL cannot hold
        const outcomes = await Promise.allSettled([
          fixture.log.append([makeEvent("acme", "e-1")]),
          fixture.log.append([bad]),
          fixture.log.append([makeEvent("acme", "e-2"), makeEvent("acme", "e-3")]),
        ]);
        expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as { status: number }).status))).toEqual([["accepted"], 422, ["accepted", "accepted"]]);
      } finally {
        await fixture.close();
      }
    });

    it("delivers events of the largest size appended together, past the broker's 1 MiB per request", async () => {
      const fixture = await kafkaLog(1);
      const consumer = fixture.log.consumer("g-large");
      try {
        // 8 events of 250 KiB (security.max_event_bytes is 256 KiB): 2 MB for one partition at once.
        const big = (i: number) => ({ ...makeEvent("acme", `e-big-${i}`), payload: JSON.stringify({ id: `e-big-${i}`, data: "x".repeat(250 * 1024) }) });
        const appended = await Promise.all(Array.from({ length: 8 }, (_, i) => fixture.log.append([big(i)])));
        expect(appended.flat()).toEqual(Array(8).fill("accepted"));
        const read = [];
        for (let round = 0; round < 60 && read.length < 8; round++) read.push(...(await consumer.poll(8, 250)));
        expect(read.map((e) => e.id).sort()).toEqual(Array.from({ length: 8 }, (_, i) => `e-big-${i}`).sort());
        expect(read.every((e) => e.payload.length > 250 * 1024)).toBe(true);
      } finally {
        await consumer.close();
        await fixture.close();
      }
    }, 30_000);

    it("holds at most 16 MiB of fetched events for a dispatcher that is behind, whatever their size, and hands out every one", async () => {
      const fixture = await kafkaLog(1);
      const consumer = fixture.log.consumer("g-bounded") as KafkaConsumer;
      try {
        const big = (i: number) => ({ ...makeEvent("acme", `e-held-${i}`), payload: JSON.stringify({ id: `e-held-${i}`, data: "x".repeat(250 * 1024) }) });
        for (let i = 0; i < 120; i += 10) await fixture.log.append(Array.from({ length: 10 }, (_, j) => big(i + j))); // 30 MB
        const read = await consumer.poll(1, 5_000);
        await Bun.sleep(2_000); // the stream fetches ahead while nobody polls
        const held = consumer.buffered();
        expect(held.messages).toBeGreaterThan(0);
        expect(held.bytes).toBeLessThanOrEqual(16 * 1024 * 1024 + 8 * 1024 * 1024); // the bound, plus the fetch that crossed it
        for (let round = 0; round < 200 && read.length < 120; round++) read.push(...(await consumer.poll(10, 250)));
        expect(new Set(read.map((e) => e.id)).size).toBe(120);
      } finally {
        await consumer.close();
        await fixture.close();
      }
    }, 60_000);

    it("never calls an event first read when the outbox sent it again or it was accepted long ago, and marks live appends sent", async () => {
      const fixture = await kafkaLog(1, 100);
      const consumer = fixture.log.consumer("g-first");
      const recent = (id: string) => ({ ...makeEvent("c", id), acceptedAt: Date.now() });
      try {
        // The reader runs and knows where its partition ended: a live append is a first read.
        let live: LoggedEvent | undefined;
        for (let i = 0; i < 20 && !live?.firstRead; i++) {
          await fixture.log.append([recent(`live-${i}`)]);
          for (let round = 0; round < 20 && !live; round++) [live] = await consumer.poll(1, 250);
          if (!live?.firstRead) live = undefined;
          await Bun.sleep(100);
        }
        expect(live?.firstRead).toBe(true);
        // Its "sent" mark reaches the outbox too, though nobody waits for it.
        const published = async (id: string) => (await fixture.sql<{ published_at: number | null }[]>`SELECT published_at FROM events WHERE id = ${id}`)[0]!.published_at;
        for (let round = 0; round < 40 && (await published(live!.id)) === null; round++) await Bun.sleep(50);
        expect(await published(live!.id)).not.toBeNull();

        // Accepted over a minute ago (a dispatcher far behind): looked up, never trusted.
        await fixture.log.append([{ ...makeEvent("c", "old"), acceptedAt: Date.now() - 120_000 }]);
        // Stored by ingest, never produced (it died): the republisher sends it, maybe a second time.
        const orphan = recent("orphan");
        await new PostgresOutbox(fixture.sql).record([orphan]);
        fixture.log.startRepublishing();
        const read: LoggedEvent[] = [];
        for (let round = 0; round < 40 && read.length < 2; round++) read.push(...(await consumer.poll(10, 250)));
        expect(read.map((e) => [e.id, e.firstRead])).toEqual([
          ["old", false],
          ["orphan", false],
        ]);
      } finally {
        await consumer.close();
        await fixture.close();
      }
    });

    it("sends again from the outbox what was accepted but never reached Kafka", async () => {
      const fixture = await kafkaLog(1, 100);
      const consumer = fixture.log.consumer("g-outbox");
      try {
        // As if ingest stored the event and died before producing it.
        const orphan = makeEvent("c", "orphan");
        await new PostgresOutbox(fixture.sql).record([orphan]);
        expect(await fixture.log.append([orphan])).toEqual(["duplicate"]);
        fixture.log.startRepublishing();
        const read = [];
        for (let round = 0; round < 40 && read.length === 0; round++) read.push(...(await consumer.poll(10, 250)));
        expect(read.map((e) => e.id)).toEqual(["orphan"]);
        // Marked published once Kafka has it (the mark may land just after the consumer sees it).
        const published = async () => (await fixture.sql<{ published_at: number | null }[]>`SELECT published_at FROM events WHERE id = 'orphan'`)[0]!.published_at;
        for (let round = 0; round < 40 && (await published()) === null; round++) await Bun.sleep(50);
        expect(await published()).not.toBeNull();
      } finally {
        await consumer.close();
        await fixture.close();
      }
    });
  });
}
