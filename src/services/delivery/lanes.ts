/**
 * @module Fair concurrency per webhook: at most `perKey` tasks of one webhook run at
 * once and at most `total` overall; waiting groups (customers) take turns, and within a group
 * its waiting webhooks do, so one slow endpoint holds only its own slots and a customer with
 * thousands of webhooks gets one turn in the round like a customer with one. Each lane also estimates how
 * long a new task would wait, so callers can park work for an endpoint that fell behind.
 */

type Task = () => Promise<void>;
/** Called instead of the task when it is dropped before it started (shutdown, eviction). */
type OnDrop = () => Promise<void> | void;

interface Queued {
  task: Task;
  onDrop?: OnDrop;
}

interface Lane {
  /** The group (customer) whose turns this lane shares. */
  group: string;
  queue: Queued[];
  head: number;
  running: number;
  inReady: boolean;
  /** Start times of the running tasks. */
  started: number[];
  /** Moving average of task duration, ms (0 until one finished). */
  averageMs: number;
}

/** How often callers should run `evictSlow`, ms. */
export const SWEEP_INTERVAL_MS = 250;

/** Weight of the newest duration in the moving average. */
const AVERAGE_WEIGHT = 0.2;
/** Started tasks a lane's queue may hold before it is compacted (a copy of what is left). */
const COMPACT_AFTER = 1024;
/**
 * A lane whose tasks take this many times as long as the uncongested lanes' (see `isBehind`) is
 * slow whatever its absolute time, provided they take at least SLOW_FLOOR_MS.
 */
const SLOWER_THAN_OTHERS = 5;
const SLOW_FLOOR_MS = 50;
/**
 * Weights of a new uncongested duration in their moving average: slow to rise, quick to fall, so a
 * few requests slowed by a busy moment do not make every endpoint look fast next to them (a burst
 * of 100,000 events took it from 2 to 96 ms, and then no uncongested task ran to bring it back).
 */
const UNCONGESTED_RISE = 0.05;
const UNCONGESTED_FALL = 0.3;

export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  /** Groups with a lane ready to start a task, in turn order; each with its ready lanes in turn order. */
  private readyGroups: string[] = [];
  private readonly readyKeys = new Map<string, string[]>();
  private running = 0;
  private waiting = 0;
  /** Moving average of the duration of tasks that finished with nothing queued behind them, ms (none until one did). */
  private uncongestedMs: number | undefined;
  private idleWaiters: (() => void)[] = [];

  /** `measuring()` says whether durations measured now are the endpoints' (the process keeps time), for the uncongested average. */
  constructor(
    private readonly total: number,
    private readonly perKey: number,
    private readonly measuring: () => boolean = () => true,
  ) {}

  /** Tasks queued (not yet started) for one key. */
  queued(key: string): number {
    const lane = this.lanes.get(key);
    return lane ? lane.queue.length - lane.head : 0;
  }

  /** Tasks running or waiting, over every key. */
  get size(): number {
    return this.running + this.waiting;
  }

  get inFlight(): number {
    return this.running;
  }

  /** Queues a task under a key of a group (default: its own); it must not throw (failures are its own business). */
  run(key: string, task: Task, onDrop?: OnDrop, group: string = key): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { group, queue: [], head: 0, running: 0, inReady: false, started: [], averageMs: 0 };
      this.lanes.set(key, lane);
    }
    lane.queue.push({ task, onDrop });
    this.waiting++;
    this.markReady(key, lane);
    this.pump();
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * How long a task queued now for `key` would wait to start: the tasks ahead of it times
   * the time one takes (its average, or the age of the oldest running one if that is
   * longer, so a hanging endpoint shows up before any of its requests has finished).
   */
  estimatedWaitMs(key: string, now: number = performance.now()): number {
    const lane = this.lanes.get(key);
    if (!lane || lane.running < this.perKey) return 0;
    return ((lane.queue.length - lane.head + 1) * this.taskMs(lane, now)) / this.perKey;
  }

  /**
   * True when `key` runs at its limit, is slow, and a new task would wait more than `maxWaitMs`.
   * Slow: its tasks take at least `slowTaskMs`, or SLOWER_THAN_OTHERS times as long as the tasks of
   * lanes with nothing queued (the endpoint itself is slow, not this process: a saturated process
   * makes every request slower alike). A fast endpoint with a long backlog is not behind: it drains
   * at full speed, and parking its work elsewhere would only slow it down.
   */
  isBehind(key: string, maxWaitMs: number, slowTaskMs: number, now: number = performance.now()): boolean {
    const lane = this.lanes.get(key);
    if (!lane || lane.running < this.perKey) return false;
    const taskMs = this.taskMs(lane, now);
    const slowerThanOthers = this.uncongestedMs !== undefined && taskMs >= Math.max(SLOW_FLOOR_MS, SLOWER_THAN_OTHERS * this.uncongestedMs);
    if (taskMs < slowTaskMs && !slowerThanOthers) return false;
    return this.estimatedWaitMs(key, now) > maxWaitMs;
  }

  private taskMs(lane: Lane, now: number): number {
    return Math.max(lane.averageMs, now - Math.min(...lane.started));
  }

  /** Keys with a lane (running or queued work). */
  keys(): IterableIterator<string> {
    return this.lanes.keys();
  }

  /**
   * For every key that `isBehind`, evicts the queued tasks that would wait longer than `maxWaitMs`:
   * the ones before them still start in time, and the lane stays full while the rest is parked.
   */
  evictSlow(maxWaitMs: number, slowTaskMs: number): void {
    const now = performance.now();
    for (const [key, lane] of [...this.lanes]) if (this.isBehind(key, maxWaitMs, slowTaskMs, now)) void this.evictQueued(key, Math.floor((maxWaitMs * this.perKey) / this.taskMs(lane, now)) - 1);
  }

  /** Drops the tasks of one key that have not started, all or those after the first `keep`; their `onDrop` runs instead. */
  evictQueued(key: string, keep = 0): Promise<void> {
    const lane = this.lanes.get(key);
    if (!lane) return Promise.resolve();
    const dropped = this.dropQueued(lane, Math.max(0, keep));
    if (lane.head === lane.queue.length) {
      if (lane.inReady) this.unready(key, lane.group);
      lane.inReady = false;
      if (lane.running === 0) this.lanes.delete(key);
    }
    this.notifyIdle();
    return dropped;
  }

  /**
   * Drops every task that has not started (their `onDrop` runs instead) and resolves when
   * the running ones have finished or `timeoutMs` has passed; true when all finished.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const dropped: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      dropped.push(this.dropQueued(lane));
      // The ready list is emptied below; a lane left marked as in it would never be pumped again.
      lane.inReady = false;
    }
    this.readyGroups = [];
    this.readyKeys.clear();
    for (const [key, lane] of this.lanes) if (lane.running === 0) this.lanes.delete(key);
    await Promise.all(dropped);
    let timer: Timer | undefined;
    const finished = await Promise.race([this.idle().then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)))]);
    clearTimeout(timer);
    return finished;
  }

  private async dropQueued(lane: Lane, keep = 0): Promise<void> {
    const queued = lane.queue.slice(lane.head + keep);
    this.waiting -= queued.length;
    lane.queue = lane.queue.slice(lane.head, lane.head + keep);
    lane.head = 0;
    await Promise.all(queued.map(({ onDrop }) => onDrop?.()));
  }

  private markReady(key: string, lane: Lane): void {
    if (!lane.inReady && lane.running < this.perKey && lane.head < lane.queue.length) {
      lane.inReady = true;
      let keys = this.readyKeys.get(lane.group);
      if (!keys) {
        keys = [];
        this.readyKeys.set(lane.group, keys);
        this.readyGroups.push(lane.group);
      }
      keys.push(key);
    }
  }

  private unready(key: string, group: string): void {
    const keys = this.readyKeys.get(group)?.filter((k) => k !== key) ?? [];
    if (keys.length > 0) this.readyKeys.set(group, keys);
    else {
      this.readyKeys.delete(group);
      this.readyGroups = this.readyGroups.filter((g) => g !== group);
    }
  }

  /** The next lane to start a task: the first group's first ready lane; both go to the back of their turn. */
  private nextReady(): string {
    const group = this.readyGroups.shift()!;
    const keys = this.readyKeys.get(group)!;
    const key = keys.shift()!;
    if (keys.length > 0) this.readyGroups.push(group);
    else this.readyKeys.delete(group);
    return key;
  }

  private pump(): void {
    while (this.running < this.total && this.readyGroups.length > 0) {
      const key = this.nextReady();
      const lane = this.lanes.get(key)!;
      lane.inReady = false;
      const { task } = lane.queue[lane.head++]!;
      if (lane.head === lane.queue.length) {
        lane.queue = [];
        lane.head = 0;
      } else if (lane.head >= COMPACT_AFTER && lane.head * 2 >= lane.queue.length) {
        // A lane that never empties (a backlog to one endpoint) would otherwise keep every task it
        // ever started, closures and all: RSS grew with each delivery of a 200,000-event backlog.
        lane.queue = lane.queue.slice(lane.head);
        lane.head = 0;
      }
      lane.running++;
      this.running++;
      this.waiting--;
      this.markReady(key, lane);
      const startedAt = performance.now();
      lane.started.push(startedAt);
      task()
        .catch(() => {}) // tasks handle their own failures; this only keeps the lane turning
        .finally(() => this.finish(key, lane, startedAt));
    }
  }

  private finish(key: string, lane: Lane, startedAt: number): void {
    lane.running--;
    this.running--;
    lane.started.splice(lane.started.indexOf(startedAt), 1);
    const tookMs = performance.now() - startedAt;
    lane.averageMs = lane.averageMs === 0 ? tookMs : lane.averageMs * (1 - AVERAGE_WEIGHT) + tookMs * AVERAGE_WEIGHT;
    if (lane.head === lane.queue.length && this.measuring()) {
      // A rise counts as at most twice the average: one request caught in a stall the loop has not yet noticed took it from 1 to 52 ms.
      const average = this.uncongestedMs ?? tookMs;
      const sample = Math.min(tookMs, 2 * average);
      const weight = sample > average ? UNCONGESTED_RISE : UNCONGESTED_FALL;
      this.uncongestedMs = average * (1 - weight) + sample * weight;
    }
    if (lane.running === 0 && lane.head === lane.queue.length) this.lanes.delete(key);
    else this.markReady(key, lane);
    this.pump();
    this.notifyIdle();
  }

  private notifyIdle(): void {
    if (this.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
