/**
 * @module Fair concurrency per webhook: at most `perKey` tasks of one webhook run at
 * once and at most `total` overall; waiting webhooks take turns, so one slow endpoint
 * holds only its own slots and never stalls the others.
 */

type Task = () => Promise<void>;
/** Called instead of the task when it is dropped before it started (shutdown). */
type OnDrop = () => Promise<void> | void;

interface Queued {
  task: Task;
  onDrop?: OnDrop;
}

interface Lane {
  queue: Queued[];
  head: number;
  running: number;
  inReady: boolean;
}

export class Lanes {
  private readonly lanes = new Map<string, Lane>();
  private ready: string[] = [];
  private running = 0;
  private waiting = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly total: number,
    private readonly perKey: number,
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

  /** Queues a task under a key; it must not throw (failures are its own business). */
  run(key: string, task: Task, onDrop?: OnDrop): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { queue: [], head: 0, running: 0, inReady: false };
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
   * Drops every task that has not started (their `onDrop` runs instead) and resolves when
   * the running ones have finished or `timeoutMs` has passed; true when all finished.
   */
  async drain(timeoutMs: number): Promise<boolean> {
    const dropped: Promise<void>[] = [];
    for (const lane of this.lanes.values()) {
      for (const { onDrop } of lane.queue.slice(lane.head)) if (onDrop) dropped.push(Promise.resolve(onDrop()));
      this.waiting -= lane.queue.length - lane.head;
      lane.queue = [];
      lane.head = 0;
      // The ready list is emptied below; a lane left marked as in it would never be pumped again.
      lane.inReady = false;
    }
    this.ready = [];
    for (const [key, lane] of this.lanes) if (lane.running === 0) this.lanes.delete(key);
    await Promise.all(dropped);
    let timer: Timer | undefined;
    const finished = await Promise.race([
      this.idle().then(() => true),
      new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return finished;
  }

  private markReady(key: string, lane: Lane): void {
    if (!lane.inReady && lane.running < this.perKey && lane.head < lane.queue.length) {
      lane.inReady = true;
      this.ready.push(key);
    }
  }

  private pump(): void {
    while (this.running < this.total && this.ready.length > 0) {
      const key = this.ready.shift()!;
      const lane = this.lanes.get(key)!;
      lane.inReady = false;
      const { task } = lane.queue[lane.head++]!;
      if (lane.head === lane.queue.length) {
        lane.queue = [];
        lane.head = 0;
      }
      lane.running++;
      this.running++;
      this.waiting--;
      this.markReady(key, lane);
      task().finally(() => this.finish(key, lane));
    }
  }

  private finish(key: string, lane: Lane): void {
    lane.running--;
    this.running--;
    if (lane.running === 0 && lane.head === lane.queue.length) this.lanes.delete(key);
    else this.markReady(key, lane);
    this.pump();
    if (this.size === 0) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }
}
