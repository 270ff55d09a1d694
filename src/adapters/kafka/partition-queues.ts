/**
 * @module Fetched messages waiting to be handed out, one queue per partition, taken in turns: a
 * partition holding a burst (one customer's event type) does not make the others' messages wait
 * behind all of it. With one first-in-first-out buffer, 100,000 events of one webhook kept another
 * customer's events a second behind in the buffer (fairness.test.ts); each partition's order, the
 * only order Kafka has, is kept.
 */

interface Queue<T> {
  items: T[];
  head: number;
}

/** Queue items a partition may have handed out before its array is compacted. */
const COMPACT_AFTER = 1024;

export class PartitionQueues<T extends { partition: number }> {
  private readonly queues = new Map<number, Queue<T>>();
  /** Partitions with something queued, in turn order. */
  private turns: number[] = [];
  private count = 0;

  get size(): number {
    return this.count;
  }

  push(item: T): void {
    let queue = this.queues.get(item.partition);
    if (!queue) {
      queue = { items: [], head: 0 };
      this.queues.set(item.partition, queue);
    }
    if (queue.head === queue.items.length) this.turns.push(item.partition);
    queue.items.push(item);
    this.count++;
  }

  /** Up to `max` items, one partition after another in turn (a partition served goes to the back), each partition's in its order. */
  take(max: number): T[] {
    const taken: T[] = [];
    let turn = 0;
    while (taken.length < max && turn < this.turns.length) {
      const partition = this.turns[turn++]!;
      const queue = this.queues.get(partition)!;
      taken.push(queue.items[queue.head++]!);
      if (queue.head < queue.items.length) {
        this.turns.push(partition);
        if (queue.head >= COMPACT_AFTER && queue.head * 2 >= queue.items.length) {
          queue.items = queue.items.slice(queue.head);
          queue.head = 0;
        }
      } else this.queues.delete(partition);
    }
    this.turns = this.turns.slice(turn);
    this.count -= taken.length;
    return taken;
  }

  clear(): void {
    this.queues.clear();
    this.turns = [];
    this.count = 0;
  }
}
