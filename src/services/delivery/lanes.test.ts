/** @module Unit tests of per-webhook lanes: per-key and total limits, isolation of a stuck key, round-robin, idle. */
import { describe, expect, it } from "bun:test";
import { Lanes } from "./lanes.ts";

/** A task whose completion the test decides, recording when it started. */
interface HeldTask {
  name: string;
  started: boolean;
  finish(): void;
  run(): Promise<void>;
}

function harness() {
  const started: string[] = [];
  const tasks = new Map<string, HeldTask>();
  const task = (name: string): HeldTask => {
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const held: HeldTask = {
      name,
      started: false,
      finish: () => resolve(),
      run: () => {
        held.started = true;
        started.push(name);
        return done;
      },
    };
    tasks.set(name, held);
    return held;
  };
  /** Queues a held task under a key. */
  const queue = (lanes: Lanes, key: string, name: string) => lanes.run(key, task(name).run);
  /** Finishes a task and lets the lanes react (its `finally` runs on a later microtask). */
  const finish = async (name: string) => {
    tasks.get(name)!.finish();
    await settle();
  };
  return { started, queue, finish };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("Lanes", () => {
  it("runs at most perKey tasks of one key at once", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(10, 2);
    for (const n of [1, 2, 3, 4, 5]) queue(lanes, "wh_a", `a${n}`);
    expect(started).toEqual(["a1", "a2"]);
    expect(lanes.inFlight).toBe(2);
    expect(lanes.queued("wh_a")).toBe(3);
    await finish("a1");
    expect(started).toEqual(["a1", "a2", "a3"]);
    expect(lanes.inFlight).toBe(2);
    expect(lanes.queued("wh_a")).toBe(2);
  });

  it("runs at most total tasks over every key", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(3, 2);
    for (const key of ["a", "b", "c"]) for (const n of [1, 2]) queue(lanes, key, `${key}${n}`);
    expect(started).toEqual(["a1", "a2", "b1"]);
    expect(lanes.inFlight).toBe(3);
    expect(lanes.size).toBe(6);
    await finish("a1");
    expect(started).toHaveLength(4);
    expect(lanes.inFlight).toBe(3);
  });

  it("keeps other keys flowing while one key's task is stuck", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(4, 1);
    queue(lanes, "slow", "stuck");
    queue(lanes, "slow", "behind-stuck");
    for (const n of [1, 2, 3]) queue(lanes, "fast", `f${n}`);
    expect(started).toEqual(["stuck", "f1"]);
    await finish("f1");
    await finish("f2");
    await finish("f3");
    expect(started).toEqual(["stuck", "f1", "f2", "f3"]);
    expect(lanes.queued("slow")).toBe(1);
    expect(lanes.queued("fast")).toBe(0);
    expect(lanes.inFlight).toBe(1);
  });

  it("keeps other keys flowing when a stuck key fills up to its limit and the total is small", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(3, 2);
    for (const n of [1, 2, 3, 4]) queue(lanes, "slow", `s${n}`);
    for (const n of [1, 2, 3]) queue(lanes, "fast", `f${n}`);
    expect(started).toEqual(["s1", "s2", "f1"]);
    await finish("f1");
    await finish("f2");
    expect(started).toEqual(["s1", "s2", "f1", "f2", "f3"]);
  });

  it("takes turns between waiting keys (round-robin)", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(1, 1);
    queue(lanes, "x", "x1");
    for (const key of ["a", "b", "c"]) for (const n of [1, 2, 3]) queue(lanes, key, `${key}${n}`);
    expect(started).toEqual(["x1"]);
    await finish("x1");
    for (const name of ["a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3"]) await finish(name);
    expect(started).toEqual(["x1", "a1", "b1", "c1", "a2", "b2", "c2", "a3", "b3", "c3"]);
  });

  it("does not let a key with many tasks starve a key that arrives later", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(1, 1);
    for (let n = 1; n <= 5; n++) queue(lanes, "busy", `busy${n}`);
    await finish("busy1");
    queue(lanes, "late", "late1");
    expect(started).toEqual(["busy1", "busy2"]);
    await finish("busy2");
    expect(started).toEqual(["busy1", "busy2", "late1"]);
    expect(lanes.queued("busy")).toBe(3);
  });

  it("counts queued tasks per key, and 0 for an unknown key", async () => {
    const { queue, finish } = harness();
    const lanes = new Lanes(1, 1);
    queue(lanes, "a", "a1");
    queue(lanes, "a", "a2");
    queue(lanes, "a", "a3");
    queue(lanes, "b", "b1");
    expect(lanes.queued("a")).toBe(2);
    expect(lanes.queued("b")).toBe(1);
    expect(lanes.queued("nope")).toBe(0);
    expect(lanes.size).toBe(4);
    // b was waiting while a1 ran, so b takes the free slot before a's next task.
    await finish("a1");
    expect(lanes.queued("a")).toBe(2);
    expect(lanes.queued("b")).toBe(0);
    expect(lanes.size).toBe(3);
    await finish("b1");
    expect(lanes.queued("a")).toBe(1);
  });

  it("resolves idle() only once every task has finished", async () => {
    const { queue, finish } = harness();
    const lanes = new Lanes(2, 1);
    queue(lanes, "a", "a1");
    queue(lanes, "a", "a2");
    queue(lanes, "b", "b1");
    let idle = false;
    const waiting = lanes.idle().then(() => {
      idle = true;
    });
    await finish("a1");
    await finish("b1");
    expect(idle).toBe(false);
    await finish("a2");
    await waiting;
    expect(idle).toBe(true);
    expect(lanes.size).toBe(0);
    expect(lanes.inFlight).toBe(0);
  });

  it("resolves idle() at once when nothing runs", async () => {
    const lanes = new Lanes(2, 1);
    let idle = false;
    await lanes.idle().then(() => (idle = true));
    expect(idle).toBe(true);
  });

  it("reuses a key after its lane has drained", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(2, 1);
    queue(lanes, "a", "a1");
    await finish("a1");
    expect(lanes.queued("a")).toBe(0);
    queue(lanes, "a", "a2");
    queue(lanes, "a", "a3");
    expect(started).toEqual(["a1", "a2"]);
    await finish("a2");
    expect(started).toEqual(["a1", "a2", "a3"]);
  });
});

describe("Lanes.drain", () => {
  it("drops tasks that have not started, calling their onDrop instead, and waits for the running ones", async () => {
    const { started, queue, finish } = harness();
    const lanes = new Lanes(1, 1);
    const dropped: string[] = [];
    queue(lanes, "a", "a1");
    lanes.run(
      "a",
      async () => void started.push("a2"),
      () => void dropped.push("a2"),
    );
    lanes.run(
      "b",
      async () => void started.push("b1"),
      () => void dropped.push("b1"),
    );
    queue(lanes, "c", "c1");
    expect(lanes.size).toBe(4);
    let drained: boolean | undefined;
    const draining = lanes.drain(60_000).then((ok) => (drained = ok));
    await settle();
    expect(dropped.sort()).toEqual(["a2", "b1"]);
    expect([lanes.queued("a"), lanes.queued("b"), lanes.queued("c")]).toEqual([0, 0, 0]);
    expect(lanes.size).toBe(1);
    expect(drained).toBeUndefined();
    await finish("a1");
    await draining;
    expect(drained).toBe(true);
    expect(started).toEqual(["a1"]);
    expect(lanes.size).toBe(0);
  });

  it("answers false when running tasks outlast the timeout", async () => {
    const { queue } = harness();
    const lanes = new Lanes(1, 1);
    queue(lanes, "a", "stuck");
    expect(await lanes.drain(1)).toBe(false);
    expect(lanes.inFlight).toBe(1);
  });

  it("still runs tasks queued after a drain, on a key that had tasks waiting for a slot", async () => {
    const { started, queue, finish } = harness();
    // perKey 2 over total 1: a's second task waits in the ready list when the drain comes.
    const lanes = new Lanes(1, 2);
    queue(lanes, "a", "a1");
    queue(lanes, "a", "a-dropped");
    expect(await lanes.drain(1)).toBe(false);
    queue(lanes, "a", "a2");
    await finish("a1");
    expect(started).toEqual(["a1", "a2"]);
    await finish("a2");
    await lanes.idle();
  });

  it("counts a key behind only when its tasks are slow: a long queue behind fast tasks means the caller is the bottleneck", async () => {
    const { queue } = harness();
    const lanes = new Lanes(10, 2);
    for (let i = 0; i < 100; i++) queue(lanes, "a", `a${i}`);
    const t0 = performance.now();
    // Two running for 50 ms, 98 queued: a new task would wait (99 × 50) / 2 ≈ 2.5 s.
    const later = t0 + 50;
    expect(lanes.estimatedWaitMs("a", later)).toBeGreaterThan(2000);
    expect(lanes.isBehind("a", 1000, 1000, later)).toBe(false); // 50 ms tasks are not slow at a 1 s threshold
    expect(lanes.isBehind("a", 1000, 20, later)).toBe(true); // at 20 ms they are, and the wait is past 1 s
    expect(lanes.isBehind("a", 5000, 20, later)).toBe(false); // ... but not past 5 s
    expect(await lanes.drain(1)).toBe(false);
  });

  it("counts a key behind when its tasks take 5 times as long as those of lanes with nothing queued (and 50 ms), whatever the slow threshold", async () => {
    for (const measuring of [true, false]) {
      const { queue, finish } = harness();
      const lanes = new Lanes(10, 2, () => measuring);
      queue(lanes, "fast", "f1");
      await finish("f1"); // a task with nothing behind it, done in well under a millisecond
      for (let i = 0; i < 100; i++) queue(lanes, "slow", `s${i}`);
      const later = performance.now() + 60;
      // Running for 60 ms against < 1 ms elsewhere: slow though far under a 10 s threshold, and a new task would wait ~3 s.
      expect({ measuring, behind: lanes.isBehind("slow", 1000, 10_000, later) }).toEqual({ measuring, behind: measuring });
      // Under 50 ms nothing is slow by comparison: at rest every request is quick.
      expect(lanes.isBehind("slow", 100, 10_000, performance.now() + 40)).toBe(false);
      expect(await lanes.drain(1)).toBe(false);
    }
  });

  it("evicts from a key behind only the tasks that would wait too long: the lane stays full", async () => {
    const lanes = new Lanes(10, 2);
    let dropped = 0;
    for (let i = 0; i < 100; i++)
      lanes.run(
        "a",
        () => Bun.sleep(10_000),
        () => void dropped++,
      );
    await Bun.sleep(60);
    lanes.evictSlow(1000, 20);
    // Two running ~60 ms each: ~2 × 1000 / 60 ≈ 32 may wait; the rest of the 98 are handed back.
    expect(lanes.queued("a")).toBeGreaterThan(20);
    expect(lanes.queued("a")).toBeLessThan(34);
    expect(dropped).toBe(98 - lanes.queued("a"));
    expect(lanes.estimatedWaitMs("a")).toBeLessThan(1100); // a new one waits about the limit (the running ones age as we look)
    expect(lanes.inFlight).toBe(2);
    expect(await lanes.drain(1)).toBe(false);
  });
});

describe("turns between groups (customers)", () => {
  it("gives a group with one webhook every other turn against a group with a hundred", async () => {
    const lanes = new Lanes(1, 1);
    const started: string[] = [];
    const finishers: (() => void)[] = [];
    const task = (name: string) => () => {
      started.push(name);
      return new Promise<void>((resolve) => finishers.push(resolve));
    };
    for (let w = 0; w < 100; w++) for (let t = 0; t < 3; t++) lanes.run(`big-wh${w}`, task(`big-wh${w}-${t}`), undefined, "big");
    for (let t = 0; t < 5; t++) lanes.run("small-wh", task(`small-${t}`), undefined, "small");
    for (let n = 0; n < 10; n++) {
      finishers.shift()!();
      await settle();
    }
    // The big group's first task started alone (nothing else was queued); from then on the groups alternate.
    expect(started.slice(1, 11).map((name) => name.split("-")[0])).toEqual(["big", "small", "big", "small", "big", "small", "big", "small", "big", "small"]);
    // Within the big group its webhooks take turns too.
    expect(started.filter((name) => name.startsWith("big")).slice(0, 4)).toEqual(["big-wh0-0", "big-wh1-0", "big-wh2-0", "big-wh3-0"]);
  });
});

describe("Lanes memory", () => {
  it("lets go of tasks it has run while their lane never empties (a backlog to one endpoint)", async () => {
    const lanes = new Lanes(4, 4);
    const early: WeakRef<object>[] = [];
    let done = 0;
    let stop = false;
    // Each task holds a payload, as a delivery's closures hold its event; 64 are queued at any time.
    const enqueue = (n: number) => {
      const payload = { n, body: "x".repeat(256) };
      if (n < 100) early.push(new WeakRef(payload));
      lanes.run("one-endpoint", async () => {
        await Bun.sleep(0);
        done += payload.n >= 0 ? 1 : 0;
        if (!stop) enqueue(n + 64);
      });
    };
    for (let n = 0; n < 64; n++) enqueue(n);
    while (done < 5_000) await Bun.sleep(1);
    expect(lanes.queued("one-endpoint")).toBeGreaterThan(0);
    Bun.gc(true);
    await Bun.sleep(0);
    Bun.gc(true);
    stop = true;
    expect(early.filter((ref) => ref.deref() !== undefined)).toHaveLength(0);
  });
});
