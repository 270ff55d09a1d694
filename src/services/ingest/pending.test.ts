// Load shedding at ingest: past the limit of events waiting to be stored, 503 with Retry-After at once.
import { describe, expect, it } from "bun:test";
import { UnavailableError } from "../../domain/errors.ts";
import { PendingEvents } from "./accept.ts";

describe("PendingEvents", () => {
  it("admits up to the limit, refuses beyond it with a retryable 503 without running the store, and frees room as stores finish", async () => {
    const pending = new PendingEvents(3);
    const releases: (() => void)[] = [];
    const store = () => new Promise<string>((resolve) => releases.push(() => resolve("stored")));
    const first = pending.admit(2, store);
    const second = pending.admit(1, store);
    expect(pending.count).toBe(3);
    const refused = await pending.admit(1, store).catch((e) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(refused.status).toBe(503);
    expect(refused.retryAfterSeconds).toBe(1);
    expect(refused.message).toContain("3 events waiting");
    expect(releases).toHaveLength(2); // the refused store never ran
    releases[0]!();
    expect(await first).toBe("stored");
    expect(pending.count).toBe(1);
    const third = pending.admit(2, store);
    releases[1]!();
    releases[2]!();
    expect(await Promise.all([second, third])).toEqual(["stored", "stored"]);
    expect(pending.count).toBe(0);
  });

  it("admits one batch larger than the limit when nothing else waits, and frees its room when the store fails", async () => {
    const pending = new PendingEvents(3);
    expect(await pending.admit(10, async () => "big")).toBe("big");
    await expect(pending.admit(2, async () => Promise.reject(new Error("disk full")))).rejects.toThrow("disk full");
    expect(pending.count).toBe(0);
  });
});
