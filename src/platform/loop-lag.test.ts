// The event loop's lateness as load shedding reads it: a loop kept busy shows, one long turn does not.
import { describe, expect, it } from "bun:test";
import { LoopLag } from "./loop-lag.ts";

const busy = (ms: number) => {
  const until = performance.now() + ms;
  while (performance.now() < until);
};
const turns = async (count: number, blockMs: number) => {
  for (let i = 0; i < count; i++) {
    busy(blockMs);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
};

describe("LoopLag", () => {
  it("reports a loop that stays behind, not a single long turn, and recovers once it catches up", async () => {
    const lag = new LoopLag(10);
    try {
      await Bun.sleep(50);
      expect(lag.ms).toBeLessThan(10);
      busy(150); // one long turn
      await Bun.sleep(25);
      expect(lag.ms).toBeLessThan(10);
      await turns(6, 60); // every turn 60 ms
      expect(lag.ms).toBeGreaterThan(30);
      await Bun.sleep(60);
      expect(lag.ms).toBeLessThan(10);
    } finally {
      lag.stop();
    }
  });
});
