/**
 * @module A dispatcher's membership in the Kafka consumer group. Messages are buffered
 * (bounded; the stream pauses when full) and handed out by `poll`; per partition, the
 * committed offset only moves past events that are all finished (AckTracker), so a
 * dispatcher that dies leaves every unfinished event to the next owner of its partitions.
 */
import { Consumer, ListOffsetTimestamps, type Message, type MessagesStream, MessagesStreamFallbackModes, MessagesStreamModes, stringDeserializers } from "@platformatic/kafka";
import type { EventConsumer, LoggedEvent } from "../../domain/ports.ts";
import type { Logger } from "../../platform/logger.ts";
import { AckTracker } from "../ack-tracker.ts";
import { decodeEvent, REPUBLISHED_HEADER } from "./codec.ts";
import { PartitionQueues } from "./partition-queues.ts";

type StringMessage = Message<string, string, string, string>;

export interface KafkaConsumerOptions {
  brokers: string[];
  topic: string;
  group: string;
  clientId: string;
}

/** Buffer bounds, in messages and in bytes: the stream pauses above either HIGH and resumes below both LOWs. */
const HIGH = 4096;
const LOW = 1024;
/** 4,096 events of 256 KiB would be 1 GiB: the bytes bound the buffer whatever the events' size. */
const HIGH_BYTES = 16 * 1024 * 1024;
const LOW_BYTES = 4 * 1024 * 1024;
/**
 * What one fetch may bring (the client's default is 50 MB) and what the stream holds while paused
 * (its default is 1,024 messages): both beside the buffer above, so both bounded for large events.
 */
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
/**
 * What one fetch may bring of one partition (the broker always sends at least one message): a
 * partition with a burst brings a slice of it with each fetch, beside the other partitions' news,
 * instead of filling the buffer so the stream pauses before the others' messages come in. At the
 * default (1 MiB), another customer's events waited a second behind 100,000 of one webhook's
 * (fairness.test.ts); at this, tens of ms.
 */
const FETCH_MAX_BYTES_PER_PARTITION = 128 * 1024;
const STREAM_HIGH_WATER_MARK = 128;
const RESTART_DELAY_MS = 1000;
/**
 * A partition's finished position goes to the broker at most this often. Committed on every
 * ack, a dispatcher at 3,000 events/s sent an OffsetCommit every round trip (each one a write to
 * the broker's offsets log); an event finished since the last commit is only read again, and
 * found stored, by whoever owns its partition next.
 */
const COMMIT_EVERY_MS = 100;
/**
 * An event accepted longer ago than this is never taken as a first read: its outbox row could
 * have been pruned by a short retention, and the look-up a re-read gets also stores it again.
 */
const FIRST_READ_MAX_AGE_MS = 60_000;

interface Partition {
  tracker: AckTracker;
  /** The highest offset handed out in this generation. */
  last: number;
  /** Each handed-out message's commit, by offset, in increasing order. */
  commits: Map<number, () => unknown>;
}

export class KafkaConsumer implements EventConsumer {
  private readonly consumer: Consumer<string, string, string, string>;
  private stream: MessagesStream<string, string, string, string> | undefined;
  private starting: Promise<void> | undefined;
  private readonly buffer = new PartitionQueues<StringMessage>();
  private bufferedBytes = 0;
  private partitions = new Map<number, Partition>();
  /** Which assignment generation an event came from; acks of an older one are ignored. */
  private readonly generationOf = new WeakMap<LoggedEvent, number>();
  private generation = 0;
  private waiter: (() => void) | undefined;
  private closed = false;
  /**
   * Per partition, its log's end when this member's assignment began: no other member can have
   * read a message at or past it, since every earlier owner had given the partition up by then.
   */
  private endAtAssignment = new Map<number, number>();
  /** Per partition, the commit of its newest finished position not yet sent. */
  private pendingCommits = new Map<number, () => unknown>();
  private commitTimer: Timer | undefined;

  constructor(
    private readonly options: KafkaConsumerOptions,
    private readonly log: Logger,
  ) {
    this.consumer = new Consumer({
      clientId: `${options.clientId}-consumer`,
      bootstrapBrokers: options.brokers,
      groupId: options.group,
      deserializers: stringDeserializers,
      autocommit: false,
      maxWaitTime: 500,
      // A dispatcher that dies is noticed within the session timeout; its partitions move on.
      sessionTimeout: 10_000,
      heartbeatInterval: 1_000,
      rebalanceTimeout: 30_000,
      retries: 3,
      retryDelay: 500,
      maxBytes: FETCH_MAX_BYTES,
      maxBytesPerPartition: FETCH_MAX_BYTES_PER_PARTITION,
      highWaterMark: STREAM_HIGH_WATER_MARK,
    });
    // A new assignment: what was buffered may belong to partitions now owned by another member.
    this.consumer.on("consumer:group:rebalance", () => this.newGeneration(false));
    // Only once joined: at a rebalance's start the partitions' earlier owners may still be reading.
    this.consumer.on("consumer:group:join", () => this.newGeneration(true));
  }

  /**
   * A new assignment: the stream fetches every assigned partition again from its committed
   * offset, so what was buffered is dropped (it comes again, or belongs to another member
   * now), and acks of events handed out before no longer move any offset.
   */
  private newGeneration(assigned: boolean): void {
    this.generation++;
    this.buffer.clear();
    this.bufferedBytes = 0;
    this.partitions = new Map();
    this.pendingCommits = new Map();
    this.endAtAssignment = new Map();
    if (assigned) this.readEnds();
  }

  private readEnds(): void {
    const generation = this.generation;
    const topic = this.options.topic;
    // Until the ends are known every message counts as possibly read before (the safe side).
    this.consumer
      .listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST })
      .then((ends) => {
        if (generation !== this.generation) return;
        for (const [p, end] of (ends.get(topic) ?? []).entries()) this.endAtAssignment.set(p, Number(end));
      })
      .catch((err) => this.log.warn({ err }, "could not read the log's end; every event is looked up as if read before"));
  }

  private start(): Promise<void> {
    this.starting ??= (async () => {
      const stream = await this.consumer.consume({
        topics: [this.options.topic],
        mode: MessagesStreamModes.COMMITTED,
        fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      });
      this.stream = stream;
      stream.on("data", (message: StringMessage) => {
        this.buffer.push(message);
        this.bufferedBytes += message.value?.length ?? 0;
        if (this.buffer.size >= HIGH || this.bufferedBytes >= HIGH_BYTES) stream.pause();
        this.wake();
      });
      stream.on("error", (err) => {
        this.log.warn({ err }, "kafka consumer stream failed; starting a new one");
        this.restart();
      });
    })().catch((err) => {
      this.log.warn({ err }, "kafka consumer could not start; trying again");
      this.restart();
    });
    return this.starting;
  }

  private restart(): void {
    if (this.closed) return;
    const old = this.stream;
    this.stream = undefined;
    this.newGeneration(false);
    void old?.close().catch(() => {});
    setTimeout(() => {
      this.starting = undefined;
      if (!this.closed) void this.start();
    }, RESTART_DELAY_MS);
  }

  private wake(): void {
    const wake = this.waiter;
    this.waiter = undefined;
    wake?.();
  }

  async poll(max: number, waitMs: number): Promise<LoggedEvent[]> {
    if (!this.stream) await this.start();
    if (this.buffer.size === 0 && waitMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, waitMs);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    const taken = this.buffer.take(max);
    const events: LoggedEvent[] = [];
    for (const message of taken) {
      this.bufferedBytes -= message.value?.length ?? 0;
      const event = this.eventFromMessage(message);
      if (event) events.push(event);
    }
    if (this.buffer.size < LOW && this.bufferedBytes < LOW_BYTES && this.stream?.isPaused()) this.stream.resume();
    return events;
  }

  private eventFromMessage(message: StringMessage): LoggedEvent | undefined {
    const offset = Number(message.offset);
    let partition = this.partitions.get(message.partition);
    if (!partition) {
      partition = { tracker: new AckTracker(offset - 1), last: offset - 1, commits: new Map() };
      this.partitions.set(message.partition, partition);
    }
    // After a rejoin the stream fetches again from the committed offset; a fetch that was already
    // under way can deliver the same offsets first. Each offset is handed out once per generation.
    if (offset <= partition.last) return undefined;
    partition.last = offset;
    partition.tracker.track(offset);
    partition.commits.set(offset, () => message.commit());
    let event: LoggedEvent;
    try {
      event = { ...decodeEvent(message.value), position: offset, partition: message.partition };
      event.firstRead = this.isFirstRead(message, offset, event.acceptedAt);
    } catch (err) {
      // Not ours to deliver; step over it so it cannot block the partition.
      this.log.error({ err, partition: message.partition, offset }, "skipping a kafka message that is not an event");
      this.finish(message.partition, offset);
      return undefined;
    }
    this.generationOf.set(event, this.generation);
    return event;
  }

  /**
   * Past the partition's end at assignment, not produced again by the outbox's republisher, and
   * recent: nobody in the group can have had it, so it has no stored deliveries to look for. A
   * member that lost its partitions without noticing (a frozen process) may still send what it had
   * fetched: a second send, as when two readers race today, never a lost one.
   */
  private isFirstRead(message: StringMessage, offset: number, acceptedAt: number): boolean {
    const end = this.endAtAssignment.get(message.partition);
    return end !== undefined && offset >= end && !message.headers.has(REPUBLISHED_HEADER) && Date.now() - acceptedAt < FIRST_READ_MAX_AGE_MS;
  }

  ack(event: LoggedEvent): void {
    if (this.generationOf.get(event) !== this.generation) return; // its partition may belong to another member now
    this.finish(event.partition, event.position);
  }

  private finish(partitionNumber: number, offset: number): void {
    const partition = this.partitions.get(partitionNumber);
    const committed = partition?.tracker.finish(offset);
    if (!partition || committed === null || committed === undefined) return;
    const commit = partition.commits.get(committed);
    for (const key of partition.commits.keys()) {
      if (key > committed) break;
      partition.commits.delete(key);
    }
    if (!commit) return;
    this.pendingCommits.set(partitionNumber, commit);
    this.commitTimer ??= setTimeout(() => void this.sendCommits(), COMMIT_EVERY_MS);
  }

  private sendCommits(): Promise<unknown> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    const pending = [...this.pendingCommits];
    this.pendingCommits.clear();
    return Promise.allSettled(
      pending.map(([partition, commit]) => Promise.resolve(commit()).catch((err) => this.log.warn({ err, partition }, "kafka offset commit failed; events may be read again"))),
    );
  }

  /**
   * Events in the topic past the group's committed offsets, over every partition (owned by
   * this member or not); for the partitions it owns, its own finished position counts even
   * before the broker has the commit.
   */
  async lag(): Promise<number> {
    const topic = this.options.topic;
    const [ends, starts] = await Promise.all([
      this.consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.LATEST }),
      this.consumer.listOffsets({ topics: [topic], timestamp: ListOffsetTimestamps.EARLIEST }),
    ]);
    const end = ends.get(topic) ?? [];
    const committed = (await this.consumer.listCommittedOffsets({ topics: [{ topic, partitions: end.map((_, p) => p) }] })).get(topic) ?? [];
    let total = 0;
    end.forEach((last, p) => {
      let position = committed[p] !== undefined && committed[p]! >= 0n ? Number(committed[p]) : Number(starts.get(topic)?.[p] ?? 0n);
      const local = this.partitions.get(p);
      if (local) position = Math.max(position, local.tracker.position + 1);
      total += Math.max(0, Number(last) - position);
    });
    return total;
  }

  /** Messages fetched and not yet handed out, and their bytes. */
  buffered(): { messages: number; bytes: number } {
    return { messages: this.buffer.size, bytes: this.bufferedBytes };
  }

  assignedPartitions(): number {
    if (!this.stream) return 0;
    return (this.consumer.assignments ?? []).filter((a) => a.topic === this.options.topic).reduce((n, a) => n + a.partitions.length, 0);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.wake();
    await this.sendCommits();
    await this.stream?.close().catch((err) => this.log.warn({ err }, "closing the kafka stream failed"));
    await this.consumer.close(true).catch((err) => this.log.warn({ err }, "closing the kafka consumer failed"));
  }
}
