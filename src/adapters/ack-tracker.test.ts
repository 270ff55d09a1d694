// AckTracker: the committed position moves only past a run of finished positions.
import { describe, expect, it } from "bun:test";
import { AckTracker } from "./ack-tracker.ts";

describe("AckTracker", () => {
  it("commits only the finished prefix, whatever order positions finish in", () => {
    const tracker = new AckTracker(10);
    for (const p of [11, 12, 13, 14]) tracker.track(p);
    expect(tracker.finish(13)).toBeNull();
    expect(tracker.position).toBe(10);
    expect(tracker.finish(11)).toBe(11);
    expect(tracker.finish(12)).toBe(13); // 13 was already finished
    expect(tracker.pending).toBe(1);
    expect(tracker.finish(14)).toBe(14);
    expect(tracker.pending).toBe(0);
  });

  it("handles gaps in positions (a log's positions need not be consecutive)", () => {
    const tracker = new AckTracker(0);
    for (const p of [5, 9, 20]) tracker.track(p);
    expect(tracker.finish(9)).toBeNull();
    expect(tracker.finish(5)).toBe(9);
    expect(tracker.finish(20)).toBe(20);
  });

  it("stays correct across many positions (compaction of its queue)", () => {
    const tracker = new AckTracker(0);
    for (let p = 1; p <= 5000; p++) tracker.track(p);
    for (let p = 5000; p >= 2; p--) tracker.finish(p);
    expect(tracker.position).toBe(0);
    expect(tracker.finish(1)).toBe(5000);
    for (let p = 5001; p <= 5003; p++) tracker.track(p);
    expect(tracker.finish(5001)).toBe(5001);
  });
});
