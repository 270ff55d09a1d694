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
    const lag = new LoopLag(10, 10_000);
    try {
      expect(lag.ms).toBe(0); // the first read starts it
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

  it("ticks only while read: at rest it stops, and the next read starts it again", async () => {
    const lag = new LoopLag(10, 60);
    try {
      expect(lag.ticking).toBe(false);
      expect(lag.ms).toBe(0);
      expect(lag.ticking).toBe(true);
      await Bun.sleep(150); // unread past idleStopMs
      expect(lag.ticking).toBe(false);
      expect(lag.ms).toBe(0);
      for (let i = 0; i < 6; i++) {
        busy(40);
        await new Promise((resolve) => setTimeout(resolve, 0));
        lag.ms; // read on every turn, as each event post does
      }
      expect(lag.ticking).toBe(true);
      expect(lag.ms).toBeGreaterThan(15);
    } finally {
      lag.stop();
    }
  });
});
