/** @module Unit tests of group commit: one flush per tick, outputs split back per caller, size trigger, shared failure, a bad item isolated. */
import { describe, expect, it } from "bun:test";
import { Coalescer } from "./coalesce.ts";

/** A flush that records each batch and answers each item with a label of it. */
function recordingFlush() {
  const batches: string[][] = [];
  const flush = async (items: string[]) => {
    batches.push([...items]);
    return items.map((item) => `out:${item}`);
  };
  return { batches, flush };
}

async function turns(n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

describe("Coalescer", () => {
  it("flushes calls made in the same tick together and splits the outputs back per caller in order", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush);
    const results = await Promise.all([coalescer.submit(["a1", "a2"]), coalescer.submit(["b1"]), coalescer.submit(["c1", "c2", "c3"])]);
    expect(batches).toEqual([["a1", "a2", "b1", "c1", "c2", "c3"]]);
    expect(results).toEqual([["out:a1", "out:a2"], ["out:b1"], ["out:c1", "out:c2", "out:c3"]]);
  });

  it("does not flush before the end of the tick", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush);
    const pending = coalescer.submit(["a"]);
    expect(batches).toEqual([]);
    await pending;
    expect(batches).toEqual([["a"]]);
  });

  it("flushes calls of a later tick in a separate batch", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush);
    await coalescer.submit(["a"]);
    await coalescer.submit(["b"]);
    expect(batches).toEqual([["a"], ["b"]]);
  });

  it("flushes at once when maxItems are waiting, without waiting for the tick", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush, { maxItems: 3 });
    const first = coalescer.submit(["a", "b"]);
    expect(batches).toEqual([]);
    const second = coalescer.submit(["c"]);
    // The third item reached maxItems: the flush started synchronously inside submit.
    expect(batches).toEqual([["a", "b", "c"]]);
    const third = coalescer.submit(["d"]);
    expect(await Promise.all([first, second, third])).toEqual([["out:a", "out:b"], ["out:c"], ["out:d"]]);
    expect(batches).toEqual([["a", "b", "c"], ["d"]]);
  });

  it("rejects every caller of a batch whose flush fails, and recovers for the next batch", async () => {
    let fail = true;
    const coalescer = new Coalescer(async (items: number[]) => {
      if (fail) throw new Error("disk full");
      return items.map((n) => n * 2);
    });
    const outcomes = await Promise.allSettled([coalescer.submit([1]), coalescer.submit([2, 3])]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    for (const outcome of outcomes) expect((outcome as PromiseRejectedResult).reason.message).toBe("disk full");
    fail = false;
    expect(await coalescer.submit([4])).toEqual([8]);
  });

  it("with isolate, a failed batch is written again caller by caller: only the caller with the bad item fails", async () => {
    const batches: string[][] = [];
    const coalescer = new Coalescer(
      async (items: string[]) => {
        batches.push([...items]);
        if (items.includes("bad")) throw Object.assign(new Error("invalid byte sequence"), { code: "22021" });
        return items.map((item) => `out:${item}`);
      },
      { serial: true, isolate: (err) => (err as { code?: string }).code === "22021" },
    );
    const outcomes = await Promise.allSettled([coalescer.submit(["a1", "a2"]), coalescer.submit(["bad"]), coalescer.submit(["c1"])]);
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message))).toEqual([["out:a1", "out:a2"], "invalid byte sequence", ["out:c1"]]);
    expect(batches).toEqual([["a1", "a2", "bad", "c1"], ["a1", "a2"], ["bad"], ["c1"]]);
  });

  it("with isolate and a synchronous flush (SQLite's), the caller with the bad item is rejected and the others answered", async () => {
    const coalescer = new Coalescer(
      (items: string[]) => {
        if (items.includes("bad")) throw new Error("refused");
        return items.map((item) => `out:${item}`);
      },
      { serial: true, isolate: () => true },
    );
    const outcomes = await Promise.allSettled([coalescer.submit(["bad"]), coalescer.submit(["ok"])]);
    expect(outcomes.map((o) => (o.status === "fulfilled" ? o.value : (o.reason as Error).message))).toEqual(["refused", ["out:ok"]]);
  });

  it("with isolate, an error it does not accept (the backend away) fails every caller of the batch at once", async () => {
    let flushes = 0;
    const coalescer = new Coalescer(
      async (_items: number[]): Promise<number[]> => {
        flushes++;
        throw Object.assign(new Error("connection refused"), { code: "ECONNREFUSED" });
      },
      { isolate: (err) => (err as { code?: string }).code === "22021" },
    );
    const outcomes = await Promise.allSettled([coalescer.submit([1]), coalescer.submit([2])]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect(flushes).toBe(1);
  });

  it("rejects the callers when a synchronous flush throws", async () => {
    const coalescer = new Coalescer<number, number>(() => {
      throw new Error("boom");
    });
    await expect(coalescer.submit([1])).rejects.toThrow("boom");
  });

  it("answers an empty submit without flushing", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush);
    expect(await coalescer.submit([])).toEqual([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([]);
  });

  it("waits up to maxWaitMs to gather a batch when asked to", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush, { maxWaitMs: 5 });
    const first = coalescer.submit(["a"]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(batches).toEqual([]);
    const second = coalescer.submit(["b"]);
    expect(await Promise.all([first, second])).toEqual([["out:a"], ["out:b"]]);
    expect(batches).toEqual([["a", "b"]]);
  });

  it("flushNow writes what is waiting at once", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush, { maxWaitMs: 60_000 });
    const pending = coalescer.submit(["a"]);
    await coalescer.flushNow();
    expect(batches).toEqual([["a"]]);
    expect(await pending).toEqual(["out:a"]);
  });

  it("serial: runs one flush at a time, and what arrives meanwhile goes together in the next", async () => {
    const batches: string[][] = [];
    let running = 0;
    let most = 0;
    const releases: (() => void)[] = [];
    const coalescer = new Coalescer<string, string>(
      async (items) => {
        batches.push([...items]);
        most = Math.max(most, ++running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running--;
        return items.map((i) => `out:${i}`);
      },
      { maxItems: 3, serial: true },
    );
    const first = coalescer.submit(["a"]);
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([["a"]]);
    const later = [coalescer.submit(["b"]), coalescer.submit(["c", "d"]), coalescer.submit(["e"])];
    await new Promise((r) => setImmediate(r));
    expect(batches).toEqual([["a"]]); // nothing else starts while the first runs
    releases.shift()!();
    expect(await first).toEqual(["out:a"]);
    await turns(2);
    // Whole submissions up to maxItems (3): b, c+d; then e.
    expect(batches).toEqual([["a"], ["b", "c", "d"]]);
    releases.shift()!();
    await turns(2);
    expect(batches).toEqual([["a"], ["b", "c", "d"], ["e"]]);
    releases.shift()!();
    expect(await Promise.all(later)).toEqual([["out:b"], ["out:c", "out:d"], ["out:e"]]);
    expect(most).toBe(1);
  });

  it("minIntervalMs: a lone call is not delayed, calls under load wait for the interval and go together, a full batch does not wait", async () => {
    const { batches, flush } = recordingFlush();
    const coalescer = new Coalescer(flush, { maxItems: 4, minIntervalMs: 40 });
    const started = performance.now();
    await coalescer.submit(["a"]);
    expect(performance.now() - started).toBeLessThan(30); // idle: flushed on the next turn
    const b = coalescer.submit(["b"]);
    await turns(3);
    const c = coalescer.submit(["c"]);
    await turns(3);
    expect(batches).toEqual([["a"]]); // b and c wait for the interval
    await Promise.all([b, c]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(39);
    expect(batches).toEqual([["a"], ["b", "c"]]);
    const full = coalescer.submit(["d", "e", "f", "g"]);
    expect(batches).toEqual([["a"], ["b", "c"], ["d", "e", "f", "g"]]); // maxItems: at once
    await full;
  });
});
