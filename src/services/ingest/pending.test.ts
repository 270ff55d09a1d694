// Load shedding at ingest: past the limit of events waiting to be stored, 503 with Retry-After at once.
import { describe, expect, it } from "bun:test";
import { UnavailableError } from "../../domain/errors.ts";
import { PendingEvents } from "./accept.ts";
import { shedEvents } from "./routes.ts";

describe("PendingEvents", () => {
  it("stores up to the limit, refuses beyond it with a retryable 503 without running the store, and frees room as stores finish", async () => {
    const pending = new PendingEvents(3);
    const releases: (() => void)[] = [];
    const store = () => new Promise<string>((resolve) => releases.push(() => resolve("stored")));
    const first = pending.storeIfRoom(2, 0, store);
    const second = pending.storeIfRoom(1, 0, store);
    expect(pending.count).toBe(3);
    const refused = await pending.storeIfRoom(1, 0, store).catch((e) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(refused.status).toBe(503);
    expect(refused.retryAfterSeconds).toBe(1);
    expect(refused.message).toContain("3 events, 0 KiB waiting");
    expect(releases).toHaveLength(2); // the refused store never ran
    releases[0]!();
    expect(await first).toBe("stored");
    expect(pending.count).toBe(1);
    const third = pending.storeIfRoom(2, 0, store);
    releases[1]!();
    releases[2]!();
    expect(await Promise.all([second, third])).toEqual(["stored", "stored"]);
    expect(pending.count).toBe(0);
  });

  it("stores one batch larger than the limit when nothing else waits, and frees its room when the store fails", async () => {
    const pending = new PendingEvents(3);
    expect(await pending.storeIfRoom(10, 0, async () => "big")).toBe("big");
    await expect(pending.storeIfRoom(2, 0, async () => Promise.reject(new Error("disk full")))).rejects.toThrow("disk full");
    expect(pending.count).toBe(0);
  });

  it("refuses past the byte limit too (a few large events hold as much memory as many small ones), and says full once it is reached", async () => {
    const pending = new PendingEvents(1000, 300_000);
    const releases: (() => void)[] = [];
    const store = () => new Promise<string>((resolve) => releases.push(() => resolve("stored")));
    const first = pending.storeIfRoom(1, 200_000, store);
    expect(pending.full()).toBeNull();
    const refused = await pending.storeIfRoom(1, 200_000, store).catch((e) => e);
    expect(refused).toBeInstanceOf(UnavailableError);
    expect(refused.message).toContain("1 events, 196 KiB waiting");
    const second = pending.storeIfRoom(1, 100_000, store);
    expect(pending.full()).toContain("2 events, 293 KiB waiting");
    for (const release of releases) release();
    expect(await Promise.all([first, second])).toEqual(["stored", "stored"]);
    expect([pending.count, pending.bytes, pending.full()]).toEqual([0, 0, null]);
    // Alone, one batch over the byte limit still goes in (max_batch_bytes bounds it).
    expect(await pending.storeIfRoom(3, 900_000, async () => "big")).toBe("big");
  });
});

describe("shedEvents", () => {
  const full = { full: () => "ingest is at capacity" };
  const room = { full: () => null };
  const post = (url: string) => new Request(url, { method: "POST", body: "{}" });

  it("refuses event posts on ingest and on the gateway's /api/v1 while full, and nothing else", () => {
    for (const url of ["http://h:8082/events", "http://h:8082/events/batch", "http://h:8080/api/v1/events", "http://h:8080/api/v1/events/batch?x=1", "https://h/events/"])
      expect(shedEvents(full)(post(url))).toBe("ingest is at capacity");
    for (const url of ["http://h:8080/api/v1/webhooks", "http://h:8080/auth/login", "http://h:8080/api/v1/events/evt_1/deliveries", "http://h:8080/x/events"])
      expect(shedEvents(full)(post(url))).toBeNull();
    expect(shedEvents(full)(new Request("http://h:8080/api/v1/events"))).toBeNull(); // GET: a listing, not a write
    expect(shedEvents(room)(post("http://h:8082/events"))).toBeNull();
  });

  it("refuses event posts while the event loop stays behind, whatever is pending", () => {
    const loop = { ms: 0 };
    const shed = shedEvents(room, loop, 100);
    expect(shed(post("http://h:8082/events"))).toBeNull();
    loop.ms = 250;
    expect(shed(post("http://h:8082/events"))).toBe("ingest is at capacity (its event loop is 250 ms behind); retry in a second");
    expect(shed(post("http://h:8080/api/v1/webhooks"))).toBeNull();
    expect(shedEvents(room, loop, 0)(post("http://h:8082/events"))).toBeNull(); // 0: off
  });

  it("says full only once the waiting events reach the limit", async () => {
    const pending = new PendingEvents(2);
    expect(pending.full()).toBeNull();
    let release = () => {};
    const stored = pending.storeIfRoom(2, 0, () => new Promise<void>((resolve) => (release = resolve)));
    expect(pending.full()).toContain("2 events, 0 KiB waiting");
    release();
    await stored;
    expect(pending.full()).toBeNull();
  });
});
