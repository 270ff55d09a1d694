/**
 * @module The EventLog port on Kafka. Accepting an event = storing it in the outbox
 * (durable, deduplicated) and producing it (idempotent producer, acks=all); what could not
 * be produced is produced again from the outbox, so nothing accepted is lost while Kafka
 * is away. Readers are one consumer group of dispatchers.
 */
import { Admin, findErrorBy, ProduceAcks, Producer, stringSerializers } from "@platformatic/kafka";
import { refusedForItsContent } from "../../domain/errors.ts";
import type { Event } from "../../domain/model.ts";
import type { AppendOutcome, EventConsumer, EventLog, Pingable } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";
import type { Logger } from "../../platform/logger.ts";
import type { Metrics } from "../../platform/metrics.ts";
import { encodeEvent, messageKey, REPUBLISHED_HEADER } from "./codec.ts";
import { KafkaConsumer } from "./consumer.ts";

/** Where accepted events wait until Kafka has them; it also answers "seen before?". */
export interface EventOutbox extends Pingable {
  /** Stores new events durably; an event seen before (customer, id) is a duplicate and not stored again. */
  record(events: Event[]): Promise<AppendOutcome[]>;
  markPublished(events: Event[]): Promise<void>;
  /** Events recorded before `before` and not yet published, oldest first. */
  unpublished(before: number, limit: number): Promise<Event[]>;
}

export interface KafkaOptions {
  brokers: string[];
  topic: string;
  partitions: number;
  clientId: string;
  /** How long a send may take before the event is left to the republisher. */
  produceTimeoutMs: number;
  /** An unpublished event older than this is produced again. */
  republishAfterMs: number;
}

const REPUBLISH_EVERY_MS = 1000;
const REPUBLISH_BATCH = 500;
/** Most events in one produce request / one outbox INSERT. */
const PRODUCE_BATCH = 2000;
const RECORD_BATCH = 1000;
/**
 * Under load the outbox INSERT and the produce request go at most this often (a lone event is not
 * delayed): each costs PostgreSQL or the broker about as much for one event as for fifty.
 */
const BATCH_INTERVAL_MS = 5;
/**
 * Bytes of messages in one produce request at most. A broker refuses a partition's record batch
 * past `message.max.bytes` (1 MiB by default): eight 250 KiB events appended together were
 * refused whole, then again by every republish of the same oldest events, and no later event
 * reached Kafka. Kept under 1 MiB with room for each record's framing.
 */
const PRODUCE_MAX_BYTES = 900 * 1024;
const RECORD_OVERHEAD_BYTES = 64;

function messageBytes(message: { key: string; value: string }): number {
  return Buffer.byteLength(message.key) + Buffer.byteLength(message.value) + RECORD_OVERHEAD_BYTES;
}

export class KafkaEventLog implements EventLog {
  private readonly producer: Producer<string, string, string, string>;
  private readonly admin: Admin;
  private republisher: Timer | undefined;
  private republishing = false;
  // One caller's event the outbox refuses fails that caller only, not every append it shared an INSERT with.
  private readonly recorder = new Coalescer<Event, AppendOutcome>((events) => this.outbox.record(events), {
    maxItems: RECORD_BATCH,
    serial: true,
    minIntervalMs: BATCH_INTERVAL_MS,
    isolate: refusedForItsContent,
  });
  private readonly publisher = new Coalescer<Event, void>((events) => this.publish(events, false).then(() => events.map(() => undefined)), {
    maxItems: PRODUCE_BATCH,
    serial: true,
    minIntervalMs: BATCH_INTERVAL_MS,
  });

  constructor(
    private readonly options: KafkaOptions,
    private readonly outbox: EventOutbox,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    const base = { bootstrapBrokers: options.brokers, timeout: options.produceTimeoutMs, retries: 2, retryDelay: 250 };
    this.producer = new Producer({
      ...base,
      clientId: `${options.clientId}-producer`,
      idempotent: true,
      acks: ProduceAcks.ALL,
      serializers: stringSerializers,
    });
    this.admin = new Admin({ ...base, clientId: `${options.clientId}-admin` });
  }

  /**
   * Creates the topic with the configured partitions when it does not exist. Processes starting
   * together race to create it: losing that race (the broker answers TOPIC_ALREADY_EXISTS, nested
   * in the client's errors, or the create fails and the topic is there after all) is success.
   */
  async ensureTopic(): Promise<void> {
    const topics = await this.admin.listTopics();
    if (topics.includes(this.options.topic)) return;
    try {
      await this.admin.createTopics({ topics: [this.options.topic], partitions: this.options.partitions, replicas: -1 });
      this.log.info({ topic: this.options.topic, partitions: this.options.partitions }, "kafka topic created");
    } catch (err) {
      if (err instanceof Error && findErrorBy(err, "apiId", "TOPIC_ALREADY_EXISTS")) return;
      const after = await this.admin.listTopics().catch(() => [] as string[]);
      if (!after.includes(this.options.topic)) throw err;
    }
  }

  /** Produces what the outbox still holds, every second, until `close`. */
  startRepublishing(): void {
    this.republisher ??= setInterval(() => void this.republish(), REPUBLISH_EVERY_MS);
  }

  /** Both halves answer: the outbox (no event is accepted without it) and the broker. */
  async ping(): Promise<void> {
    await Promise.all([this.outbox.ping(), this.admin.metadata({ topics: [this.options.topic], forceUpdate: true })]);
  }

  /**
   * Stores the events in the outbox, then produces them; the appends of one tick share one
   * INSERT and one produce request (and one UPDATE marking them sent). A failed or slow send
   * only delays an event until the republisher's turn: it is durable in the outbox already.
   */
  async append(events: Event[]): Promise<AppendOutcome[]> {
    const outcomes = await this.recorder.submit(events);
    const accepted = events.filter((_, i) => outcomes[i] === "accepted");
    if (accepted.length > 0) {
      const sent = this.publisher.submit(accepted).catch((err) => this.log.warn({ err, events: accepted.length }, "kafka send failed; the outbox will send again"));
      // The events are durable in the outbox already: a broker that does not answer (frozen, or
      // partitioned away without a reset) delays the answer by produce_timeout at most, never more.
      let timer: Timer | undefined;
      await Promise.race([sent, new Promise<void>((resolve) => (timer = setTimeout(resolve, this.options.produceTimeoutMs)))]);
      clearTimeout(timer);
    }
    return outcomes;
  }

  /**
   * Produces the events in requests of at most PRODUCE_MAX_BYTES, each marked sent once Kafka has
   * it. The mark is written at once: tried every 100 ms, the marks a kill -9 lost sent their events
   * again while the first copies were still being delivered (kill.test.ts: 888 repeats where at
   * most 512 deliveries had been under way).
   */
  private async publish(events: Event[], republished: boolean): Promise<void> {
    const headers = republished ? { [REPUBLISHED_HEADER]: "1" } : undefined;
    const messages = events.map((event) => ({ topic: this.options.topic, key: messageKey(event), value: encodeEvent(event), headers }));
    const sizes = messages.map(messageBytes);
    let start = 0;
    while (start < messages.length) {
      let end = start;
      let bytes = 0;
      // At least one message per request: an event is at most security.max_event_bytes (256 KiB).
      while (end < messages.length && (end === start || bytes + sizes[end]! <= PRODUCE_MAX_BYTES)) bytes += sizes[end++]!;
      await this.producer.send({ messages: messages.slice(start, end) });
      this.metrics.kafkaProduced.inc(end - start);
      await this.outbox.markPublished(events.slice(start, end));
      start = end;
    }
  }

  private async republish(): Promise<void> {
    if (this.republishing) return;
    this.republishing = true;
    try {
      for (;;) {
        const stale = await this.outbox.unpublished(Date.now() - this.options.republishAfterMs, REPUBLISH_BATCH);
        if (stale.length === 0) break;
        await this.publish(stale, true);
        this.log.info({ events: stale.length }, "outbox events sent to kafka");
        if (stale.length < REPUBLISH_BATCH) break;
      }
    } catch (err) {
      this.log.warn({ err }, "outbox republish failed; trying again");
    } finally {
      this.republishing = false;
    }
  }

  consumer(group: string): EventConsumer {
    return new KafkaConsumer({ brokers: this.options.brokers, topic: this.options.topic, group, clientId: this.options.clientId }, this.log);
  }

  async close(): Promise<void> {
    clearInterval(this.republisher);
    // What is queued goes now; what Kafka does not take is sent from the outbox after a restart.
    await this.publisher.flushNow();
    await Promise.allSettled([this.producer.close(), this.admin.close()]);
  }
}
