/**
 * @module The RetrySchedule contract: every adapter (SQLite now, Redis later) runs this suite.
 * Time is passed explicitly as `now`, so leases are tested without sleeping.
 */
import { afterEach, beforeEach, describe, expect, it } from "bun:test";
import type { RetrySchedule } from "../../src/domain/ports.ts";

export interface RetryScheduleFixture {
  schedule: RetrySchedule;
  close(): Promise<void>;
}

const T = 1_800_000_000_000;
const LEASE = 60_000;

/**
 * Runs the RetrySchedule contract. `makeSchedule` is called once per test and must return
 * an empty schedule (fresh database or key prefix): claims and depth are global to it.
 */
export function describeRetryScheduleContract(name: string, makeSchedule: () => Promise<RetryScheduleFixture>): void {
  describe(`RetrySchedule contract: ${name}`, () => {
    let fixture: RetryScheduleFixture;
    let schedule: RetrySchedule;

    beforeEach(async () => {
      fixture = await makeSchedule();
      schedule = fixture.schedule;
    });

    afterEach(async () => {
      await fixture.close();
    });

    const ids = (items: { deliveryId: string }[]) => items.map((i) => i.deliveryId);

    it("answers ping", async () => {
      await schedule.ping();
    });

    it("ensureScheduled adds what is absent and leaves what is there, claimed or waiting, as it was", async () => {
      await schedule.schedule([
        { deliveryId: "del_waiting", dueAt: T + 5000 },
        { deliveryId: "del_claimed", dueAt: T - 1000 },
      ]);
      expect(await schedule.claim(T, 1, LEASE)).toEqual([{ deliveryId: "del_claimed", dueAt: T - 1000 }]);
      await schedule.ensureScheduled([
        { deliveryId: "del_waiting", dueAt: T },
        { deliveryId: "del_claimed", dueAt: T },
        { deliveryId: "del_new", dueAt: T },
      ]);
      expect(await schedule.depth()).toBe(3);
      // The claim's lease holds (not due again at T), the waiting one keeps its later time, the new one is due.
      expect(await schedule.claim(T, 10, LEASE)).toEqual([{ deliveryId: "del_new", dueAt: T }]);
      expect(ids(await schedule.claim(T + 5000, 10, LEASE))).toEqual(["del_waiting"]);
      expect(ids(await schedule.claim(T + LEASE, 10, LEASE)).sort()).toEqual(["del_claimed", "del_new"]);
    });

    it("is empty at first: depth 0, nothing to claim, nothing due next", async () => {
      expect(await schedule.depth()).toBe(0);
      expect(await schedule.claim(T, 10, LEASE)).toEqual([]);
      expect(await schedule.nextDue()).toBeNull();
    });

    it("says when the next item comes due: the earliest waiting, or a claimed one's lease end, and null once all are done", async () => {
      await schedule.schedule([
        { deliveryId: "del_later", dueAt: T + 9000 },
        { deliveryId: "del_soon", dueAt: T + 2000 },
        { deliveryId: "del_due", dueAt: T - 5 },
      ]);
      expect(await schedule.nextDue()).toBe(T - 5);
      expect(ids(await schedule.claim(T, 10, LEASE))).toEqual(["del_due"]);
      expect(await schedule.nextDue()).toBe(T + 2000);
      await schedule.complete(["del_soon", "del_later"]);
      expect(await schedule.nextDue()).toBe(T + LEASE); // the claimed one reappears then
      await schedule.complete(["del_due"]);
      expect(await schedule.nextDue()).toBeNull();
    });

    it("claims only items that are due, ordered by due time, with their due time", async () => {
      await schedule.schedule([
        { deliveryId: "del_c", dueAt: T - 1000 },
        { deliveryId: "del_future", dueAt: T + 1 },
        { deliveryId: "del_a", dueAt: T - 3000 },
        { deliveryId: "del_now", dueAt: T },
        { deliveryId: "del_b", dueAt: T - 2000 },
      ]);
      expect(await schedule.depth()).toBe(5);
      const claimed = await schedule.claim(T, 10, LEASE);
      expect(claimed).toEqual([
        { deliveryId: "del_a", dueAt: T - 3000 },
        { deliveryId: "del_b", dueAt: T - 2000 },
        { deliveryId: "del_c", dueAt: T - 1000 },
        { deliveryId: "del_now", dueAt: T },
      ]);
    });

    it("claims at most limit items, the earliest first, and leaves the rest for the next claim", async () => {
      await schedule.schedule(Array.from({ length: 5 }, (_, i) => ({ deliveryId: `del_${i}`, dueAt: T - 5000 + i })));
      expect(ids(await schedule.claim(T, 2, LEASE))).toEqual(["del_0", "del_1"]);
      expect(ids(await schedule.claim(T, 2, LEASE))).toEqual(["del_2", "del_3"]);
      expect(ids(await schedule.claim(T, 2, LEASE))).toEqual(["del_4"]);
      expect(await schedule.claim(T, 2, LEASE)).toEqual([]);
    });

    it("moves an item's due time when it is scheduled again, without adding a second one", async () => {
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T - 1000 }]);
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T + 5000 }]);
      expect(await schedule.depth()).toBe(1);
      expect(await schedule.claim(T, 10, LEASE)).toEqual([]);
      expect(await schedule.claim(T + 5000, 10, LEASE)).toEqual([{ deliveryId: "del_1", dueAt: T + 5000 }]);
    });

    it("moves an item earlier when scheduled again with an earlier due time", async () => {
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T + 60_000 }]);
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T - 1 }]);
      expect(ids(await schedule.claim(T, 10, LEASE))).toEqual(["del_1"]);
    });

    it("hides a claimed item until its lease ends, then hands it out again", async () => {
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T - 10 }]);
      expect(ids(await schedule.claim(T, 10, LEASE))).toEqual(["del_1"]);
      expect(await schedule.claim(T, 10, LEASE)).toEqual([]);
      expect(await schedule.claim(T + LEASE - 1, 10, LEASE)).toEqual([]);
      // The worker died: after the lease the item reappears for another worker.
      expect(ids(await schedule.claim(T + LEASE + 1, 10, LEASE))).toEqual(["del_1"]);
      expect(await schedule.claim(T + LEASE + 2, 10, LEASE)).toEqual([]);
    });

    it("keeps a claimed item in the depth until it is completed", async () => {
      await schedule.schedule([
        { deliveryId: "del_1", dueAt: T - 10 },
        { deliveryId: "del_2", dueAt: T - 5 },
      ]);
      await schedule.claim(T, 10, LEASE);
      expect(await schedule.depth()).toBe(2);
      await schedule.complete(["del_1"]);
      expect(await schedule.depth()).toBe(1);
    });

    it("removes completed items for good, lease or not", async () => {
      await schedule.schedule([
        { deliveryId: "del_claimed", dueAt: T - 10 },
        { deliveryId: "del_waiting", dueAt: T + 1000 },
        { deliveryId: "del_kept", dueAt: T - 5 },
      ]);
      expect(ids(await schedule.claim(T, 1, LEASE))).toEqual(["del_claimed"]);
      await schedule.complete(["del_claimed", "del_waiting"]);
      expect(await schedule.depth()).toBe(1);
      expect(ids(await schedule.claim(T + 10 * LEASE, 10, LEASE))).toEqual(["del_kept"]);
    });

    it("says which deliveries are on it, waiting or claimed, and not those completed or never there", async () => {
      const now = Date.now();
      await schedule.schedule([
        { deliveryId: "del_on_waiting", dueAt: now + 60_000 },
        { deliveryId: "del_on_claimed", dueAt: now - 1 },
        { deliveryId: "del_on_done", dueAt: now - 1 },
      ]);
      await schedule.claim(now, 10, 60_000);
      await schedule.complete(["del_on_done"]);
      expect(await schedule.scheduled(["del_on_waiting", "del_on_claimed", "del_on_done", "del_on_never"])).toEqual(new Set(["del_on_waiting", "del_on_claimed"]));
      expect(await schedule.scheduled([])).toEqual(new Set());
    });

    it("ignores completing unknown items and empty lists", async () => {
      await schedule.schedule([]);
      await schedule.complete([]);
      await schedule.complete(["del_unknown"]);
      expect(await schedule.depth()).toBe(0);
    });

    it("lets a claimed item be rescheduled, replacing its lease", async () => {
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T - 10 }]);
      await schedule.claim(T, 10, LEASE);
      // The attempt failed again: the worker schedules the next retry sooner than the lease would end.
      await schedule.schedule([{ deliveryId: "del_1", dueAt: T + 1000 }]);
      expect(await schedule.depth()).toBe(1);
      expect(await schedule.claim(T + 999, 10, LEASE)).toEqual([]);
      expect(await schedule.claim(T + 1000, 10, LEASE)).toEqual([{ deliveryId: "del_1", dueAt: T + 1000 }]);
    });

    it("never hands the same item to two concurrent claims", async () => {
      await schedule.schedule(Array.from({ length: 20 }, (_, i) => ({ deliveryId: `del_${i}`, dueAt: T - 100 + i })));
      const claims = await Promise.all([schedule.claim(T, 15, LEASE), schedule.claim(T, 15, LEASE), schedule.claim(T, 15, LEASE)]);
      const all = claims.flatMap(ids);
      expect(new Set(all).size).toBe(all.length);
      expect(all.sort()).toEqual(Array.from({ length: 20 }, (_, i) => `del_${i}`).sort());
    });
  });
}
