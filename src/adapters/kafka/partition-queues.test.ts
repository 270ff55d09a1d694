/** @module Unit tests of the fetched-message queues: turns between partitions, each partition's order kept. */
import { describe, expect, it } from "bun:test";
import fc from "fast-check";
import { PartitionQueues } from "./partition-queues.ts";

const msg = (partition: number, offset: number) => ({ partition, offset });

describe("PartitionQueues", () => {
  it("hands out a partition's burst in turns with the others, not all of it first", () => {
    const q = new PartitionQueues<{ partition: number; offset: number }>();
    for (let i = 0; i < 1000; i++) q.push(msg(0, i));
    q.push(msg(1, 0));
    q.push(msg(2, 0));
    expect(q.take(3).map((m) => m.partition)).toEqual([0, 1, 2]);
    expect(q.size).toBe(999);
    expect(q.take(2)).toEqual([msg(0, 1), msg(0, 2)]);
  });

  it("property: every item once, each partition's in its order, and a partition's turn never skipped twice in a row", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 300 }), fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 50 }), (partitions, takes) => {
        const q = new PartitionQueues<{ partition: number; offset: number }>();
        const next = new Map<number, number>();
        for (const p of partitions) {
          q.push(msg(p, next.get(p) ?? 0));
          next.set(p, (next.get(p) ?? 0) + 1);
        }
        const out: { partition: number; offset: number }[] = [];
        for (let i = 0; q.size > 0; i++) {
          const waiting = new Set(partitions.filter((p) => out.filter((m) => m.partition === p).length < (next.get(p) ?? 0)));
          const batch = q.take(takes[i % takes.length]!);
          // Each batch serves every partition that had items before serving any twice.
          const firsts = batch.slice(0, waiting.size).map((m) => m.partition);
          if (batch.length >= waiting.size) expect(new Set(firsts)).toEqual(waiting);
          out.push(...batch);
        }
        expect(out).toHaveLength(partitions.length);
        for (const [p, count] of next) expect(out.filter((m) => m.partition === p).map((m) => m.offset)).toEqual(Array.from({ length: count }, (_, i) => i));
      }),
    );
  });
});
