// Retention: prunes in batches until a batch comes back short, with the cutoff from the clock.
import { describe, expect, it } from "bun:test";
import type { Store } from "../../domain/ports.ts";
import { createLogger } from "../../platform/logger.ts";
import { startRetention } from "./retention.ts";

describe("startRetention", () => {
  it("prunes everything older than the retention at once, batch after batch, then stops on a short batch", async () => {
    const calls: { before: number; limit: number }[] = [];
    const batches = [1000, 1000, 7];
    const store = { pruneFinished: async (before: number, limit: number) => (calls.push({ before, limit }), batches.shift() ?? 0) } as unknown as Store;
    const stop = startRetention({ store, clock: { now: () => 1_000_000 }, log: createLogger("silent") }, 400_000);
    await Bun.sleep(20);
    stop();
    expect(calls).toEqual([
      { before: 600_000, limit: 1000 },
      { before: 600_000, limit: 1000 },
      { before: 600_000, limit: 1000 },
    ]);
  });

  it("survives a failing store and tries again on its next turn", async () => {
    const store = { pruneFinished: async () => Promise.reject(new Error("database away")) } as unknown as Store;
    const logged: string[] = [];
    const log = createLogger("warn", { write: (line: string) => void logged.push(line) } as never);
    const stop = startRetention({ store, clock: { now: () => 1 }, log }, 1);
    await Bun.sleep(20);
    stop();
    expect(logged.join("")).toContain("retention pruning failed");
  });
});
