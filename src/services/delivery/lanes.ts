/**
 * @module Fair concurrency per webhook: at most `perKey` tasks of one webhook run at
 * once and at most `total` overall; waiting webhooks take turns, so one slow endpoint
 * holds only its own slots and never stalls the others.
 */

type Task = () => Promise<void>;

interface Lane {
  queue: Task[];
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
  run(key: string, task: Task): void {
    let lane = this.lanes.get(key);
    if (!lane) {
      lane = { queue: [], head: 0, running: 0, inReady: false };
      this.lanes.set(key, lane);
    }
    lane.queue.push(task);
    this.waiting++;
    this.markReady(key, lane);
    this.pump();
  }

  /** Resolves once nothing runs or waits. */
  idle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
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
      const task = lane.queue[lane.head++]!;
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
