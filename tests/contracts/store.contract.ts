/**
 * @module The Store contract: every adapter (SQLite now, PostgreSQL later) runs this suite.
 * One store serves the whole suite; each test works in customers of its own, and global
 * figures (webhooksVersion, countDeliveries) are checked as changes, not absolute values.
 */
import { afterAll, beforeAll, describe, expect, it } from "bun:test";
import fc from "fast-check";
import { EVENT_SCAN_WINDOW } from "../../src/adapters/event-pages.ts";
import { deliveryIdFor, idFloor, newId } from "../../src/domain/ids.ts";
import { type Attempt, type Delivery, type DeliveryStatus, type Event, type EventType, freshDelivery, NEW_WEBHOOK_STATE, type Webhook } from "../../src/domain/model.ts";
import type { AttemptRecord, Store } from "../../src/domain/ports.ts";
import { makeEvent, T0 } from "./event-log.contract.ts";

export interface StoreFixture {
  store: Store;
  close(): Promise<void>;
  /**
   * Puts events where this store reads them (getEvent, deliveryWork), e.g. through the event
   * log sharing its database. Omit it when `openDeliveries` keeps the events itself.
   */
  appendEvents?(events: Event[]): Promise<void>;
}

let customers = 0;
/** A customer no other test touches. */
function customerId(): string {
  return `cust_${process.pid}_${++customers}_${Math.random().toString(36).slice(2, 8)}`;
}

export function makeWebhook(customerId: string, overrides: Partial<Webhook> = {}): Webhook {
  const at = new Date(T0).toISOString();
  return {
    id: newId("wh"),
    customerId,
    url: "https://example.com/hooks",
    eventTypes: ["order.created"],
    headers: { "x-api-key": "k1" },
    description: "contract webhook",
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    status: "active",
    ...NEW_WEBHOOK_STATE,
    createdAt: at,
    updatedAt: at,
    ...overrides,
  };
}

function attemptRecord(delivery: Delivery, attemptNumber: number, statusCode: number | null, status: DeliveryStatus, nextAttemptAt: number | null = null): AttemptRecord {
  const attempt: Attempt = {
    id: newId("att"),
    deliveryId: delivery.id,
    customerId: delivery.customerId,
    attemptNumber,
    statusCode,
    durationMs: 12.345,
    error: statusCode === null ? "connection refused" : statusCode >= 300 ? `HTTP ${statusCode}` : null,
    responseBody: statusCode === null ? null : `answer ${attemptNumber}`,
    createdAt: T0 + attemptNumber * 1000,
  };
  return { delivery, attempt, status, nextAttemptAt };
}

/** Runs the Store contract against a store made once for the suite. */
export function describeStoreContract(name: string, makeStore: () => Promise<StoreFixture>): void {
  describe(`Store contract: ${name}`, () => {
    let fixture: StoreFixture;
    let store: Store;

    beforeAll(async () => {
      fixture = await makeStore();
      store = fixture.store;
    });

    afterAll(async () => {
      await fixture.close();
    });

    /** Creates events (where the store reads them) and webhooks, and opens a delivery per pair. */
    async function deliveriesFor(events: Event[], webhooks: Webhook[]): Promise<Delivery[][]> {
      await fixture.appendEvents?.(events);
      return store.openDeliveries(
        events.map((event) => ({ event, webhooks })),
        T0 + 1_000,
      );
    }

    async function createdWebhook(customer: string, overrides: Partial<Webhook> = {}): Promise<Webhook> {
      const webhook = makeWebhook(customer, overrides);
      await store.createWebhook(webhook);
      return webhook;
    }

    describe("customers, users and settings", () => {
      it("answers ping", async () => {
        await store.ping();
      });

      it("creates a customer once, however often it is ensured", async () => {
        const customer = customerId();
        await store.ensureCustomer(customer, "Acme");
        await store.ensureCustomer(customer, "Acme again");
      });

      it("stores a user and reads it back, and replaces it on a second put", async () => {
        const customer = customerId();
        await store.ensureCustomer(customer, "Acme");
        const username = `user_${customer}`;
        expect(await store.getUser(username)).toBeUndefined();
        await store.putUser({ username, customerId: customer, passwordHash: "hash-1", scopes: ["webhooks:read"] });
        expect(await store.getUser(username)).toEqual({ username, customerId: customer, passwordHash: "hash-1", scopes: ["webhooks:read"] });
        await store.putUser({ username, customerId: customer, passwordHash: "hash-2", scopes: ["webhooks:read", "events:write"] });
        expect(await store.getUser(username)).toEqual({
          username,
          customerId: customer,
          passwordHash: "hash-2",
          scopes: ["webhooks:read", "events:write"],
        });
      });

      it("stores a setting on first use and keeps the first value after that", async () => {
        const key = `setting_${customerId()}`;
        expect(await store.settingOrInit(key, "first")).toBe("first");
        expect(await store.settingOrInit(key, "second")).toBe("first");
      });

      it("keeps the first value when two callers initialise a setting at once", async () => {
        const key = `setting_${customerId()}`;
        const [a, b] = await Promise.all([store.settingOrInit(key, "a"), store.settingOrInit(key, "b")]);
        expect(a).toBe(b);
      });
    });

    describe("webhooks", () => {
      it("creates a webhook and reads back every field", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer, {
          eventTypes: ["order.created", "order.paid"],
          headers: { "x-one": "1", "x-two": "two" },
          description: null,
          permanentFailureCodes: [400, 401, 403],
          rateLimit: null,
          maxInFlight: null,
        });
        expect(await store.getWebhook(customer, webhook.id)).toEqual(webhook);
      });

      it("answers undefined for an unknown webhook", async () => {
        expect(await store.getWebhook(customerId(), "wh_unknown")).toBeUndefined();
      });

      it("updates every changeable field", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const changed: Webhook = {
          ...webhook,
          url: "https://example.org/other",
          eventTypes: ["*"],
          headers: {},
          description: "changed",
          secret: "whsec_c2Vjb25kLXNlY3JldC1ieXRlcy0xMjM0NTY3ODkw",
          status: "disabled",
          disabledReason: "the endpoint answered 410 Gone",
          permanentFailureCodes: [422],
          rateLimit: null,
          maxInFlight: null,
          updatedAt: new Date(T0 + 60_000).toISOString(),
        };
        await store.updateWebhook(changed);
        expect(await store.getWebhook(customer, webhook.id)).toEqual(changed);
      });

      it("deletes a webhook once: true, then gone, then false", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        expect(await store.deleteWebhook(customer, webhook.id)).toBe(true);
        expect(await store.getWebhook(customer, webhook.id)).toBeUndefined();
        expect(await store.deleteWebhook(customer, webhook.id)).toBe(false);
      });

      it("lists webhooks in id order over cursor pages, each once", async () => {
        const customer = customerId();
        const created: Webhook[] = [];
        for (let i = 0; i < 5; i++) created.push(await createdWebhook(customer, { description: `n${i}` }));
        const expected = created.map((w) => w.id).sort();

        const first = await store.listWebhooks(customer, 2);
        expect(first.data.map((w) => w.id)).toEqual(expected.slice(0, 2));
        expect(first.nextCursor).not.toBeNull();
        const second = await store.listWebhooks(customer, 2, first.nextCursor!);
        expect(second.data.map((w) => w.id)).toEqual(expected.slice(2, 4));
        const third = await store.listWebhooks(customer, 2, second.nextCursor!);
        expect(third.data.map((w) => w.id)).toEqual(expected.slice(4));
        expect(third.nextCursor).toBeNull();
        expect(third.data[0]).toEqual(created.find((w) => w.id === expected[4])!);
      });

      it("gives no next cursor when the last page is exactly full", async () => {
        const customer = customerId();
        for (let i = 0; i < 4; i++) await createdWebhook(customer);
        const first = await store.listWebhooks(customer, 2);
        const second = await store.listWebhooks(customer, 2, first.nextCursor!);
        expect(second.data).toHaveLength(2);
        expect(second.nextCursor).toBeNull();
        expect((await store.listWebhooks(customer, 10)).nextCursor).toBeNull();
      });

      it("lists nothing for a customer without webhooks", async () => {
        expect(await store.listWebhooks(customerId(), 10)).toEqual({ data: [], nextCursor: null });
      });

      it("changes webhooksVersion on every create, update and delete", async () => {
        const customer = customerId();
        const v0 = await store.webhooksVersion();
        const webhook = await createdWebhook(customer);
        const v1 = await store.webhooksVersion();
        expect(v1).not.toBe(v0);
        await store.updateWebhook({ ...webhook, url: "https://example.org/moved" });
        const v2 = await store.webhooksVersion();
        expect(v2).not.toBe(v1);
        expect(v2).not.toBe(v0);
        await store.deleteWebhook(customer, webhook.id);
        const v3 = await store.webhooksVersion();
        expect([v0, v1, v2]).not.toContain(v3);
        expect(await store.webhooksVersion()).toBe(v3);
      });

      it("where it sends change notices, a watcher of the changing store has each one by the time the change is answered", async () => {
        if (!store.watchWebhooks) return; // the sharded store: its readers ask the version instead
        let notices = 0;
        const stop = await store.watchWebhooks(() => notices++);
        try {
          // One on connecting (changes may have been missed before).
          for (let waited = 0; notices === 0 && waited < 5_000; waited += 10) await Bun.sleep(10);
          const customer = customerId();
          const webhook = await createdWebhook(customer);
          expect(notices).toBe(2);
          await store.updateWebhook({ ...webhook, url: "https://example.org/moved" });
          expect(notices).toBe(3);
          await store.deleteWebhook(customer, webhook.id);
          expect(notices).toBe(4);
          // Nothing changed: no notice.
          await store.deleteWebhook(customer, webhook.id);
          await store.listWebhooks(customer, 10);
          await Bun.sleep(100);
          expect(notices).toBe(4);
        } finally {
          await stop();
        }
      });

      it("lists active webhooks of every customer and leaves disabled ones out", async () => {
        const a = customerId();
        const b = customerId();
        const activeA = await createdWebhook(a);
        const disabledA = await createdWebhook(a, { status: "disabled" });
        const activeB = await createdWebhook(b, { eventTypes: ["*"] });
        const active = (await store.activeWebhooks()).filter((w) => w.customerId === a || w.customerId === b);
        expect(active.map((w) => w.id).sort()).toEqual([activeA.id, activeB.id].sort());
        expect(active.find((w) => w.id === activeB.id)).toEqual(activeB);
        expect(active.map((w) => w.id)).not.toContain(disabledA.id);
      });

      it("disables an active webhook once, with its reason and a webhook.disabled event; never one a person changed meanwhile", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const versionBefore = await store.webhooksVersion();
        const event = (at: number) => ({
          id: newId("ope", at),
          customerId: customer,
          webhookId: webhook.id,
          type: "webhook.disabled" as const,
          reason: "the endpoint answered 410 Gone",
          createdAt: at,
        });
        const first = event(T0 + 1_000);
        const disabled = await store.disableWebhook(first);
        expect(disabled).toEqual({ ...webhook, status: "disabled", disabledReason: first.reason, updatedAt: new Date(first.createdAt).toISOString() });
        expect(await store.getWebhook(customer, webhook.id)).toEqual(disabled);
        expect(await store.webhooksVersion()).not.toBe(versionBefore); // readers' caches see it
        expect((await store.activeWebhooks()).map((w) => w.id)).not.toContain(webhook.id);
        // A second disable (a repeated write, or another dispatcher's 410) changes nothing and records nothing.
        expect(await store.disableWebhook(event(T0 + 2_000))).toBeUndefined();
        expect(await store.listOperationalEvents(customer, { limit: 10 })).toEqual({ data: [first], nextCursor: null });
        // Enabled again by a person, then disabled by hand: hookrelay's disable leaves that alone.
        await store.updateWebhook({ ...webhook, status: "disabled", updatedAt: new Date(T0 + 3_000).toISOString() });
        expect(await store.disableWebhook(event(T0 + 4_000))).toBeUndefined();
        expect((await store.getWebhook(customer, webhook.id))?.disabledReason).toBeNull();
        expect(await store.disableWebhook({ ...event(T0 + 5_000), webhookId: "wh_unknown" })).toBeUndefined();
      });

      it("lists a customer's operational events newest first, by webhook, over cursor pages", async () => {
        const customer = customerId();
        const [a, b] = [await createdWebhook(customer), await createdWebhook(customer)];
        const other = customerId();
        const foreign = await createdWebhook(other);
        const events = [];
        for (const [i, w] of [a, b, foreign].entries()) {
          const e = { id: newId("ope", T0 + i), customerId: w.customerId, webhookId: w.id, type: "webhook.disabled" as const, reason: `reason ${i}`, createdAt: T0 + i };
          await store.disableWebhook(e);
          events.push(e);
        }
        const [ea, eb] = events;
        expect(await store.listOperationalEvents(customer, { limit: 10 })).toEqual({ data: [eb!, ea!], nextCursor: null });
        const firstPage = await store.listOperationalEvents(customer, { limit: 1 });
        expect(firstPage).toEqual({ data: [eb!], nextCursor: eb!.id });
        expect(await store.listOperationalEvents(customer, { limit: 1, cursor: firstPage.nextCursor! })).toEqual({ data: [ea!], nextCursor: null });
        expect(await store.listOperationalEvents(customer, { webhookId: a.id, limit: 10 })).toEqual({ data: [ea!], nextCursor: null });
        expect(await store.listOperationalEvents(customer, { webhookId: foreign.id, limit: 10 })).toEqual({ data: [], nextCursor: null });
      });

      it("opens a webhook's breaker once, claims its probes one process at a time, stores a failed probe, and closes it once", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const op = (type: "webhook.paused" | "webhook.resumed", at: number) => ({ id: newId("ope", at), customerId: customer, webhookId: webhook.id, type, reason: type, createdAt: at });
        const pause = { since: T0, failingSince: T0 - 5_000, failures: 10, probeAt: T0 + 1_000, probeIntervalMs: 1_000 };
        const version = await store.webhooksVersion();
        const paused = await store.pauseWebhook(op("webhook.paused", T0), pause);
        expect(paused).toEqual({ ...webhook, pause });
        expect(await store.webhooksVersion()).not.toBe(version);
        expect(await store.pauseWebhook(op("webhook.paused", T0 + 1), { ...pause, failures: 99 })).toBeUndefined(); // opened already
        // Still active (its events are held, not dropped): in the index, with its pause.
        expect((await store.activeWebhooks()).find((w) => w.id === webhook.id)?.pause).toEqual(pause);

        const mine = (list: Webhook[]) => list.filter((w) => w.id === webhook.id);
        expect(mine(await store.claimProbes(T0 + 999, 10_000, 100))).toEqual([]); // not due yet
        const [claimed] = mine(await store.claimProbes(T0 + 1_000, 10_000, 100));
        expect(claimed?.pause).toEqual({ ...pause, probeAt: T0 + 11_000 });
        expect(mine(await store.claimProbes(T0 + 5_000, 10_000, 100))).toEqual([]); // claimed: nobody else probes it
        const failedProbe = { ...pause, failures: 11, probeAt: T0 + 3_000, probeIntervalMs: 2_000 };
        expect(await store.reprobe(customer, webhook.id, failedProbe)).toBe(true);
        expect((await store.getWebhook(customer, webhook.id))?.pause).toEqual(failedProbe);

        const resumed = await store.resumeWebhook(op("webhook.resumed", T0 + 4_000));
        expect(resumed).toEqual({ ...webhook, pause: null, resumedAt: T0 + 4_000 });
        expect(await store.resumeWebhook(op("webhook.resumed", T0 + 5_000))).toBeUndefined(); // closed already
        expect(await store.reprobe(customer, webhook.id, failedProbe)).toBe(false);
        expect((await store.listOperationalEvents(customer, { limit: 10 })).data.map((e) => [e.type, e.createdAt])).toEqual([
          ["webhook.resumed", T0 + 4_000],
          ["webhook.paused", T0],
        ]);
      });

      it("lists a webhook's unfinished deliveries oldest event first, and its activity; the sweep leaves a paused webhook's alone", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const events = [1, 2, 3, 4].map((i) => ({ ...makeEvent(customer, `evt_unfinished_${i}`), acceptedAt: T0 + i }));
        const opened = (
          await store.openDeliveries(
            events.map((event) => ({ event, webhooks: [webhook] })),
            T0,
          )
        ).flat();
        const attempt = (d: Delivery, status: "succeeded" | "failed" | "dead", at: number): AttemptRecord => ({
          delivery: d,
          attempt: {
            id: newId("att"),
            deliveryId: d.id,
            customerId: customer,
            attemptNumber: 1,
            statusCode: status === "succeeded" ? 200 : 503,
            durationMs: 1,
            error: null,
            responseBody: null,
            createdAt: at,
          },
          status,
          nextAttemptAt: status === "failed" ? at + 1_000 : null,
        });
        await store.recordAttempts([attempt(opened[0]!, "succeeded", T0 + 100), attempt(opened[1]!, "failed", T0 + 200), attempt(opened[3]!, "dead", T0 + 300)]);
        const unfinished = await store.unfinishedDeliveries(customer, webhook.id, 10);
        expect(unfinished.map((d) => d.eventId)).toEqual(["evt_unfinished_2", "evt_unfinished_3"]);
        expect((await store.unfinishedDeliveries(customer, webhook.id, 10, unfinished[0]!.id)).map((d) => d.eventId)).toEqual(["evt_unfinished_3"]);
        expect(await store.deliveryActivity(customer, webhook.id)).toEqual({ lastSuccessAt: T0 + 100, lastFailureAt: T0 + 300, unfinished: 2 });
        const overdue = async () => (await store.overdueDeliveries(T0 + 1_000_000, 10_000)).map((o) => o.deliveryId).filter((id) => unfinished.some((d) => d.id === id));
        expect((await overdue()).sort()).toEqual(unfinished.map((d) => d.id).sort());
        await store.pauseWebhook(
          { id: newId("ope"), customerId: customer, webhookId: webhook.id, type: "webhook.paused", reason: "r", createdAt: T0 },
          { since: T0, failingSince: T0, failures: 1, probeAt: T0, probeIntervalMs: 1 },
        );
        expect(await overdue()).toEqual([]); // held for the probe, not swept back onto the schedule
      });

      it("drops a webhook from the active list once it is disabled", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        await store.updateWebhook({ ...webhook, status: "disabled" });
        expect((await store.activeWebhooks()).map((w) => w.id)).not.toContain(webhook.id);
      });
    });

    describe("deliveries and attempts", () => {
      it("opens one pending delivery per event and webhook, one list per item", async () => {
        const customer = customerId();
        const w1 = await createdWebhook(customer);
        const w2 = await createdWebhook(customer);
        const e1 = makeEvent(customer, "evt_1");
        const e2 = makeEvent(customer, "evt_2");
        await fixture.appendEvents?.([e1, e2]);
        const opened = await store.openDeliveries(
          [
            { event: e1, webhooks: [w1, w2] },
            { event: e2, webhooks: [w2] },
            { event: e2, webhooks: [] },
          ],
          T0 + 1_000,
        );
        expect(opened).toHaveLength(3);
        expect(opened[0]!.map((d) => [d.eventId, d.webhookId])).toEqual([
          ["evt_1", w1.id],
          ["evt_1", w2.id],
        ]);
        expect(opened[1]!.map((d) => [d.eventId, d.webhookId])).toEqual([["evt_2", w2.id]]);
        expect(opened[2]).toEqual([]);
        for (const delivery of opened.flat()) {
          expect(delivery).toMatchObject({ customerId: customer, status: "pending", attemptCount: 0, roundStart: 0, lastStatusCode: null });
          expect(await store.getDelivery(customer, delivery.id)).toEqual(delivery);
        }
        expect(new Set(opened.flat().map((d) => d.id)).size).toBe(3);
      });

      it("returns the stored delivery, id and status, when the same event and webhook are opened again", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const event = makeEvent(customer, "evt_again");
        const [[first]] = (await deliveriesFor([event], [webhook])) as [[Delivery]];
        await store.recordAttempts([attemptRecord(first, 1, 200, "succeeded")]);
        const [[second]] = (await store.openDeliveries([{ event, webhooks: [webhook] }], T0 + 1_000)) as [[Delivery]];
        expect(second.id).toBe(first.id);
        expect(second.status).toBe("succeeded");
        expect(second.attemptCount).toBe(1);
        const all = await store.listDeliveries(customer, { limit: 10 });
        expect(all.data).toHaveLength(1);
      });

      it("opens one delivery when the same pair appears twice in one call", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const event = makeEvent(customer, "evt_twice");
        await fixture.appendEvents?.([event]);
        const opened = await store.openDeliveries(
          [
            { event, webhooks: [webhook] },
            { event, webhooks: [webhook] },
          ],
          T0 + 1_000,
        );
        expect(opened[0]![0]!.id).toBe(opened[1]![0]!.id);
      });

      it("creates a delivery never opened from its first recorded attempt, in that attempt's state, under deliveryIdFor's id", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const event = makeEvent(customer, "evt_lazy");
        await fixture.appendEvents?.([event]);
        expect(await store.saveEventsAndFindDeliveries([{ event, webhooks: [webhook] }])).toEqual([[]]);
        const fresh = freshDelivery(event, webhook.id, T0);
        expect(fresh.id).toBe(deliveryIdFor(customer, "evt_lazy", webhook.id, event.acceptedAt));
        const record = attemptRecord(fresh, 1, 200, "succeeded");
        await store.recordAttempts([record]);
        await store.recordAttempts([record]); // written twice (a retried write): still one row, one state
        const stored = await store.getDelivery(customer, fresh.id);
        expect(stored).toEqual({ ...fresh, status: "succeeded", attemptCount: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null, updatedAt: record.attempt.createdAt });
        expect(
          await store.saveEventsAndFindDeliveries([
            { event, webhooks: [webhook] },
            { event, webhooks: [] },
          ]),
        ).toEqual([[stored!], []]);
        // Opened afterwards (parked by another dispatcher that read the event again): the same row, not a second one.
        const [[opened]] = (await store.openDeliveries([{ event, webhooks: [webhook] }], T0 + 1_000)) as [[Delivery]];
        expect(opened).toEqual(stored!);
        expect((await store.listDeliveries(customer, { limit: 10 })).data).toHaveLength(1);
        expect((await store.listAttempts(fresh.id)).map((a) => a.id)).toEqual([record.attempt.id]);
      });

      it("saveEventsAndFindDeliveries: each item's stored deliveries, whichever webhooks it names", async () => {
        const customer = customerId();
        const w1 = await createdWebhook(customer);
        const w2 = await createdWebhook(customer);
        const e1 = makeEvent(customer, "evt_s1");
        const e2 = makeEvent(customer, "evt_s2");
        await fixture.appendEvents?.([e1, e2]);
        await store.openDeliveries([{ event: e1, webhooks: [w1, w2] }], T0 + 1_000);
        const found = await store.saveEventsAndFindDeliveries([
          { event: e1, webhooks: [w1, w2] },
          { event: e2, webhooks: [w1] },
        ]);
        expect(found[0]!.map((d) => d.webhookId).sort()).toEqual([w1.id, w2.id].sort());
        expect(found[0]!.every((d) => d.status === "pending" && d.eventId === "evt_s1")).toBe(true);
        expect(found[1]).toEqual([]);
      });

      it("opens a parked delivery due at the given time", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_parked")], [webhook])) as [[Delivery]];
        expect(delivery.nextAttemptAt).toBe(T0 + 1_000);
      });

      it("keeps one attempt row per attempt: written again (a lost acknowledgement) it adds nothing, and the metrics-free store counts it once", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_once")], [webhook])) as [[Delivery]];
        const record = attemptRecord(delivery, 1, 503, "failed", T0 + 5000);
        await store.recordAttempts([record]);
        await store.recordAttempts([record, record]);
        expect((await store.listAttempts(delivery.id)).map((a) => [a.id, a.attemptNumber])).toEqual([[record.attempt.id, 1]]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({ status: "failed", attemptCount: 1 });
      });

      it("keeps both of two attempts that raced for one number, the later under the next free number", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_raced")], [webhook])) as [[Delivery]];
        const first = attemptRecord(delivery, 1, 503, "failed", T0 + 5000);
        const second = attemptRecord(delivery, 1, 200, "succeeded");
        await store.recordAttempts([first]);
        await store.recordAttempts([second]);
        await store.recordAttempts([second]); // and written again: still two rows
        const attempts = await store.listAttempts(delivery.id);
        expect(attempts.map((a) => [a.id, a.attemptNumber])).toEqual([
          [first.attempt.id, 1],
          [second.attempt.id, 2],
        ]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({ status: "succeeded", attemptCount: 2 });
      });

      it("property: generated attempt writes (new, written again, raced for one number) leave one row per attempt, unique numbers, a count covering them, one delivery per pair", async () => {
        const op = fc.record({ delivery: fc.integer({ min: 0, max: 2 }), kind: fc.constantFrom("new", "again", "race"), code: fc.constantFrom(200, 500, null) });
        await fc.assert(
          fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 12 }), async (ops) => {
            const customer = customerId();
            const webhook = await createdWebhook(customer);
            const events = [0, 1, 2].map((i) => makeEvent(customer, `evt_p${i}`));
            const deliveries = (await deliveriesFor(events, [webhook])).flat();
            const written = new Map<string, AttemptRecord[]>();
            for (const { delivery, kind, code } of ops) {
              const d = deliveries[delivery]!;
              const list = written.get(d.id) ?? [];
              const last = list[list.length - 1];
              let record: AttemptRecord;
              if (kind === "again" && last) record = last;
              else {
                const number = kind === "race" && last ? last.attempt.attemptNumber : list.length + 1;
                record = attemptRecord(d, number, code, code === 200 ? "succeeded" : "failed", code === 200 ? null : T0 + 60_000);
                list.push(record);
              }
              written.set(d.id, list);
              await store.recordAttempts([record]);
            }
            for (const d of deliveries) {
              const rows = await store.listAttempts(d.id);
              expect(rows.map((r) => r.id).sort()).toEqual((written.get(d.id) ?? []).map((r) => r.attempt.id).sort());
              expect(new Set(rows.map((r) => r.attemptNumber)).size).toBe(rows.length);
              expect((await store.getDelivery(customer, d.id))!.attemptCount).toBeGreaterThanOrEqual(rows.length);
            }
            const found = await store.saveEventsAndFindDeliveries(events.map((event) => ({ event, webhooks: [webhook] })));
            expect(found.map((f) => f.map((d) => d.id))).toEqual(deliveries.map((d) => [d.id]));
          }),
          { numRuns: 25, seed: Number(process.env.HOOKRELAY_PROPERTY_SEED ?? Date.now() % 2 ** 31) },
        );
      }, 120_000);

      it("finds unfinished deliveries of active webhooks overdue before a time, longest overdue first", async () => {
        const customer = customerId();
        const active = await createdWebhook(customer);
        const disabled = await createdWebhook(customer, { status: "disabled" });
        const events = ["evt_o1", "evt_o2", "evt_o3", "evt_o4", "evt_o5"].map((id) => makeEvent(customer, id));
        const [d1, d2, d3, d4, d5] = (await deliveriesFor(events, [active])).flat();
        const [[off]] = (await deliveriesFor([makeEvent(customer, "evt_o6")], [disabled])) as [[Delivery]];
        await store.recordAttempts([
          attemptRecord(d1!, 1, 503, "failed", T0 + 3000),
          attemptRecord(d2!, 1, 503, "failed", T0 + 2000),
          attemptRecord(d3!, 1, 200, "succeeded"),
          attemptRecord(d4!, 1, 410, "dead"),
          attemptRecord(d5!, 1, 503, "failed", T0 + 9_000_000),
        ]);
        const overdue = (await store.overdueDeliveries(T0 + 10_000, 1000)).filter((o) => [d1, d2, d3, d4, d5, off].some((d) => d!.id === o.deliveryId));
        expect(overdue).toEqual([
          { deliveryId: d2!.id, dueAt: T0 + 2000 },
          { deliveryId: d1!.id, dueAt: T0 + 3000 },
        ]);
        expect(off!.status).toBe("pending"); // pending, overdue, but its webhook is disabled: not found
      });

      it("gives the work for many deliveries in one read, leaving out those it does not have", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const events = ["evt_w1", "evt_w2", "evt_w3"].map((id) => makeEvent(customer, id));
        const opened = (await deliveriesFor(events, [webhook])).flat();
        const work = await store.deliveryWork([opened[2]!.id, "del_unknown", opened[0]!.id, opened[1]!.id]);
        expect(work.map((w) => w.delivery.id).sort()).toEqual(opened.map((d) => d.id).sort());
        for (const w of work) expect(w.event.id).toBe(w.delivery.eventId);
      });

      it("records a failed attempt: status, attempt count, last status code, error and next attempt", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_fail")], [webhook])) as [[Delivery]];
        await store.recordAttempts([attemptRecord(delivery, 1, 503, "failed", T0 + 5000)]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({
          status: "failed",
          attemptCount: 1,
          lastStatusCode: 503,
          lastError: "HTTP 503",
          nextAttemptAt: T0 + 5000,
        });
        await store.recordAttempts([attemptRecord(delivery, 2, null, "failed", T0 + 9000)]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({
          status: "failed",
          attemptCount: 2,
          lastStatusCode: null,
          lastError: "connection refused",
          nextAttemptAt: T0 + 9000,
        });
        await store.recordAttempts([attemptRecord(delivery, 3, 200, "succeeded")]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({
          status: "succeeded",
          attemptCount: 3,
          lastStatusCode: 200,
          lastError: null,
          nextAttemptAt: null,
        });
      });

      it("records attempts of several deliveries in one call and in concurrent calls", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const opened = await deliveriesFor([makeEvent(customer, "evt_a"), makeEvent(customer, "evt_b"), makeEvent(customer, "evt_c")], [webhook]);
        const [a, b, c] = opened.map((list) => list[0]!);
        await Promise.all([store.recordAttempts([attemptRecord(a!, 1, 200, "succeeded"), attemptRecord(b!, 1, 500, "failed", T0 + 1)]), store.recordAttempts([attemptRecord(c!, 1, 410, "dead")])]);
        expect((await store.getDelivery(customer, a!.id))!.status).toBe("succeeded");
        expect((await store.getDelivery(customer, b!.id))!.status).toBe("failed");
        expect((await store.getDelivery(customer, c!.id))!.status).toBe("dead");
      });

      it("lists a delivery's attempts by attempt number with every field", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_att")], [webhook])) as [[Delivery]];
        const r1 = attemptRecord(delivery, 1, 500, "failed", T0 + 1000);
        const r2 = attemptRecord(delivery, 2, null, "failed", T0 + 2000);
        const r3 = attemptRecord(delivery, 3, 200, "succeeded");
        await store.recordAttempts([r2]);
        await store.recordAttempts([r1]);
        await store.recordAttempts([r3]);
        expect(await store.listAttempts(delivery.id)).toEqual([
          { ...r1.attempt, nextAttemptAt: T0 + 1000 },
          { ...r2.attempt, nextAttemptAt: T0 + 2000 },
          { ...r3.attempt, nextAttemptAt: null },
        ]);
        // A late write of an older attempt never lowers the count.
        expect((await store.getDelivery(customer, delivery.id))!.attemptCount).toBe(3);
        expect(await store.listAttempts("del_unknown")).toEqual([]);
      });

      it("keeps the newest attempt's outcome when an older attempt is recorded after it", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_late")], [webhook])) as [[Delivery]];
        // The retry succeeded and was recorded first; the first attempt's failure lands late
        // (its write was held up while the database was away).
        await store.recordAttempts([attemptRecord(delivery, 2, 200, "succeeded")]);
        await store.recordAttempts([attemptRecord(delivery, 1, 500, "failed", T0 + 1000)]);
        expect(await store.getDelivery(customer, delivery.id)).toMatchObject({ status: "succeeded", attemptCount: 2, lastStatusCode: 200, nextAttemptAt: null });
        // Within one batch too, whatever the order.
        const [[other]] = (await deliveriesFor([makeEvent(customer, "evt_late_2")], [webhook])) as [[Delivery]];
        await store.recordAttempts([attemptRecord(other, 2, 200, "succeeded"), attemptRecord(other, 1, 500, "failed", T0 + 1000)]);
        expect(await store.getDelivery(customer, other.id)).toMatchObject({ status: "succeeded", attemptCount: 2, lastStatusCode: 200 });
        expect(await store.listAttempts(other.id)).toHaveLength(2);
        // Two attempts with one number: the later one decides, whatever order they are written in.
        const [[tie]] = (await deliveriesFor([makeEvent(customer, "evt_late_3")], [webhook])) as [[Delivery]];
        const failedFirst = attemptRecord(tie, 1, 500, "failed", T0 + 1000);
        const succeededLater = attemptRecord(tie, 1, 200, "succeeded");
        succeededLater.attempt.createdAt = failedFirst.attempt.createdAt + 1500;
        await store.recordAttempts([succeededLater]);
        await store.recordAttempts([failedFirst]);
        expect(await store.getDelivery(customer, tie.id)).toMatchObject({ status: "succeeded", lastStatusCode: 200 });
      });

      it("filters deliveries by webhook, event and status, and pages through them in id order", async () => {
        const customer = customerId();
        const w1 = await createdWebhook(customer);
        const w2 = await createdWebhook(customer);
        const events = [makeEvent(customer, "evt_1"), makeEvent(customer, "evt_2"), makeEvent(customer, "evt_3")];
        const all = (await deliveriesFor(events, [w1, w2])).flat();
        expect(all).toHaveLength(6);
        const of = (eventId: string, webhookId: string) => all.find((d) => d.eventId === eventId && d.webhookId === webhookId)!;
        await store.recordAttempts([
          attemptRecord(of("evt_1", w1.id), 1, 200, "succeeded"),
          attemptRecord(of("evt_2", w1.id), 1, 500, "failed", T0 + 1),
          attemptRecord(of("evt_3", w2.id), 1, 410, "dead"),
        ]);
        const idsOf = async (filter: Parameters<Store["listDeliveries"]>[1]) => (await store.listDeliveries(customer, filter)).data.map((d) => d.id).sort();
        const sortedIds = (list: Delivery[]) => list.map((d) => d.id).sort();

        expect(await idsOf({ limit: 100, webhookId: w1.id })).toEqual(sortedIds(all.filter((d) => d.webhookId === w1.id)));
        expect(await idsOf({ limit: 100, eventId: "evt_2" })).toEqual(sortedIds(all.filter((d) => d.eventId === "evt_2")));
        expect(await idsOf({ limit: 100, status: "succeeded" })).toEqual([of("evt_1", w1.id).id]);
        expect(await idsOf({ limit: 100, status: "failed" })).toEqual([of("evt_2", w1.id).id]);
        expect(await idsOf({ limit: 100, status: "dead" })).toEqual([of("evt_3", w2.id).id]);
        expect(await idsOf({ limit: 100, status: "pending" })).toHaveLength(3);
        expect(await idsOf({ limit: 100, webhookId: w2.id, status: "pending" })).toHaveLength(2);
        expect(await idsOf({ limit: 100, webhookId: w1.id, eventId: "evt_1" })).toEqual([of("evt_1", w1.id).id]);
        expect(await idsOf({ limit: 100, eventId: "evt_none" })).toEqual([]);

        const listed = (await store.listDeliveries(customer, { limit: 100, status: "failed" })).data[0]!;
        expect(listed).toMatchObject({ eventId: "evt_2", webhookId: w1.id, status: "failed", attemptCount: 1, lastStatusCode: 500 });

        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.listDeliveries(customer, { limit: 4, cursor });
          expect(page.data.length).toBeLessThanOrEqual(4);
          seen.push(...page.data.map((d) => d.id));
          cursor = page.nextCursor ?? undefined;
          pages++;
        } while (cursor && pages < 10);
        expect(pages).toBe(2);
        expect(seen).toEqual(sortedIds(all));

        const filteredPage = await store.listDeliveries(customer, { limit: 1, webhookId: w2.id });
        expect(filteredPage.data).toHaveLength(1);
        const next = await store.listDeliveries(customer, { limit: 5, webhookId: w2.id, cursor: filteredPage.nextCursor! });
        expect(next.data.every((d) => d.webhookId === w2.id)).toBe(true);
        expect(next.data).toHaveLength(2);
        expect(next.nextCursor).toBeNull();
      });

      it("starts a new retry round on requeue: pending, round_start at the attempt count, next attempt at the given time", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_requeue")], [webhook])) as [[Delivery]];
        await store.recordAttempts([attemptRecord(delivery, 1, 500, "failed", T0 + 1), attemptRecord(delivery, 2, 500, "failed", T0 + 2), attemptRecord(delivery, 3, 500, "dead")]);
        const dead = (await store.getDelivery(customer, delivery.id))!;
        expect(dead.status).toBe("dead");
        const requeued = await store.requeueDelivery(dead, T0 + 99_000);
        expect(requeued).toMatchObject({ id: delivery.id, status: "pending", attemptCount: 3, roundStart: 3, nextAttemptAt: T0 + 99_000 });
        expect(await store.getDelivery(customer, delivery.id)).toEqual(requeued);
        expect(await store.listAttempts(delivery.id)).toHaveLength(3);
      });

      it("reads back when each attempt put the next try: the scheduled time, null after a success or a dead end", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[failing], [succeeding]] = (await deliveriesFor([makeEvent(customer, "evt_next_1"), makeEvent(customer, "evt_next_2")], [webhook])) as [[Delivery], [Delivery]];
        await store.recordAttempts([attemptRecord(failing, 1, 503, "failed", T0 + 5000), attemptRecord(failing, 2, null, "failed", T0 + 9000), attemptRecord(succeeding, 1, 200, "succeeded")]);
        await store.recordAttempts([attemptRecord(failing, 3, 500, "dead")]);
        expect((await store.listAttempts(failing.id)).map((a) => [a.attemptNumber, a.nextAttemptAt])).toEqual([
          [1, T0 + 5000],
          [2, T0 + 9000],
          [3, null],
        ]);
        expect((await store.listAttempts(succeeding.id)).map((a) => a.nextAttemptAt)).toEqual([null]);
      });

      it("keeps each manual retry of a delivery, oldest first, apart from other deliveries' retries", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[one], [other]] = (await deliveriesFor([makeEvent(customer, "evt_replay_1"), makeEvent(customer, "evt_replay_2")], [webhook])) as [[Delivery], [Delivery]];
        expect(await store.listReplays(one.id)).toEqual([]);
        await store.recordAttempts([attemptRecord(one, 1, 410, "dead"), attemptRecord(other, 1, 410, "dead")]);
        await store.requeueDelivery(one, T0 + 10_000);
        await store.requeueDelivery(other, T0 + 15_000);
        await store.recordAttempts([attemptRecord(one, 2, 410, "dead")]);
        await store.requeueDelivery(one, T0 + 20_000);
        await store.requeueDelivery(one, T0 + 30_000);
        expect(await store.listReplays(one.id)).toEqual([T0 + 10_000, T0 + 20_000, T0 + 30_000]);
        expect(await store.listReplays(other.id)).toEqual([T0 + 15_000]);
        expect(await store.listReplays("del_unknown")).toEqual([]);
      });

      it("gives the work for a delivery: the delivery, its event and its webhook", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const event = makeEvent(customer, "evt_work", "order.created", { total: 42, note: "ünïcödé" });
        const [[delivery]] = (await deliveriesFor([event], [webhook])) as [[Delivery]];
        const [work] = await store.deliveryWork([delivery.id]);
        expect(work).toBeDefined();
        expect(work!.delivery).toEqual(delivery);
        expect(work!.webhook).toEqual(webhook);
        expect(work!.event).toMatchObject({ customerId: customer, id: "evt_work", type: "order.created", timestamp: event.timestamp });
        expect(work!.event.payload).toBe(event.payload);
        expect(await store.deliveryWork(["del_unknown"])).toEqual([]);
      });

      it("gives the updated webhook in the work after the webhook changes", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const [[delivery]] = (await deliveriesFor([makeEvent(customer, "evt_moved")], [webhook])) as [[Delivery]];
        await store.updateWebhook({ ...webhook, url: "https://example.org/moved" });
        expect((await store.deliveryWork([delivery.id]))[0]!.webhook.url).toBe("https://example.org/moved");
      });

      it("reads an event back by customer and id, byte for byte", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const event = makeEvent(customer, "evt_read", "invoice.paid", { amount: 1.5 });
        await deliveriesFor([event], [webhook]);
        const read = await store.getEvent(customer, "evt_read");
        expect(read).toMatchObject({ customerId: customer, id: "evt_read", type: "invoice.paid", source: event.source, timestamp: event.timestamp });
        expect(read!.payload).toBe(event.payload);
        expect(await store.getEvent(customer, "evt_none")).toBeUndefined();
        expect(await store.getEvent(customerId(), "evt_read")).toBeUndefined();
      });

      it("counts deliveries by status", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const before = await store.countDeliveries();
        const opened = (
          await deliveriesFor(
            [1, 2, 3, 4, 5].map((n) => makeEvent(customer, `evt_${n}`)),
            [webhook],
          )
        ).map((list) => list[0]!);
        await store.recordAttempts([
          attemptRecord(opened[0]!, 1, 200, "succeeded"),
          attemptRecord(opened[1]!, 1, 200, "succeeded"),
          attemptRecord(opened[2]!, 1, 500, "failed", T0 + 1),
          attemptRecord(opened[3]!, 1, 410, "dead"),
        ]);
        const after = await store.countDeliveries();
        expect({
          pending: after.pending - before.pending,
          succeeded: after.succeeded - before.succeeded,
          failed: after.failed - before.failed,
          dead: after.dead - before.dead,
        }).toEqual({ pending: 1, succeeded: 2, failed: 1, dead: 1 });
      });
    });

    describe("retention", () => {
      const DAY = 86_400_000;

      /** An attempt (and the delivery's new state) written at `at`, long before anything else in the suite. */
      function recordAt(delivery: Delivery, attemptNumber: number, status: DeliveryStatus, at: number): AttemptRecord {
        const record = attemptRecord(delivery, attemptNumber, status === "succeeded" ? 200 : 500, status, status === "failed" ? at + 1000 : null);
        return { ...record, attempt: { ...record.attempt, createdAt: at } };
      }

      it("prunes finished deliveries changed before the cutoff with their attempts and emptied events, and keeps the rest", async () => {
        // Every other test writes at T0 or later, so nothing of theirs is older than this cutoff.
        const old = T0 - 400 * DAY;
        const before = old + DAY;
        const customer = customerId();
        const w1 = await createdWebhook(customer);
        const w2 = await createdWebhook(customer);
        const [eA, eB, eC, eD] = ["evt_a", "evt_b", "evt_c", "evt_d"].map((id) => ({ ...makeEvent(customer, id), acceptedAt: old }));
        const opened = await deliveriesFor([eA!, eB!, eC!, eD!], [w1]);
        const [aDone, bDead, cRecent, dPending] = opened.map((list) => list[0]!);
        const [[aFailing]] = (await store.openDeliveries([{ event: eA!, webhooks: [w2] }], T0 + 1_000)) as [[Delivery]];
        await store.recordAttempts([
          recordAt(aDone!, 1, "succeeded", old + 1000),
          recordAt(aFailing!, 1, "failed", old + 1000),
          recordAt(bDead!, 1, "failed", old + 1000),
          recordAt(bDead!, 2, "dead", old + 2000),
          recordAt(cRecent!, 1, "succeeded", before + DAY),
        ]);

        expect(await store.pruneFinished(before, 100)).toBe(2);
        expect(await store.getDelivery(customer, aDone!.id)).toBeUndefined();
        expect(await store.getDelivery(customer, bDead!.id)).toBeUndefined();
        expect(await store.listAttempts(aDone!.id)).toEqual([]);
        expect(await store.listAttempts(bDead!.id)).toEqual([]);
        expect(await store.getEvent(customer, "evt_b")).toBeUndefined();
        // Still in progress, finished after the cutoff, or never tried: all kept, with their events.
        expect((await store.getDelivery(customer, aFailing!.id))!.status).toBe("failed");
        expect(await store.listAttempts(aFailing!.id)).toHaveLength(1);
        expect((await store.getDelivery(customer, cRecent!.id))!.status).toBe("succeeded");
        expect((await store.getDelivery(customer, dPending!.id))!.status).toBe("pending");
        expect((await store.deliveryWork([aFailing!.id]))[0]!.event.payload).toBe(eA!.payload);
        expect(await store.getEvent(customer, "evt_c")).toBeDefined();
        expect(await store.getEvent(customer, "evt_d")).toBeDefined();
        expect(await store.pruneFinished(before, 100)).toBe(0);

        // The event goes with its last delivery.
        await store.recordAttempts([recordAt(aFailing!, 2, "succeeded", old + 5000)]);
        expect(await store.pruneFinished(before, 100)).toBe(1);
        expect(await store.getEvent(customer, "evt_a")).toBeUndefined();
        expect(await store.getDelivery(customer, aFailing!.id)).toBeUndefined();
      });

      it("prunes at most `limit` deliveries per call, oldest first", async () => {
        const old = T0 - 800 * DAY;
        const before = old + DAY;
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const events = [1, 2, 3].map((n) => ({ ...makeEvent(customer, `evt_${n}`), acceptedAt: old }));
        const opened = (await deliveriesFor(events, [webhook])).map((list) => list[0]!);
        await store.recordAttempts(opened.map((delivery, i) => recordAt(delivery, 1, i === 1 ? "dead" : "succeeded", old + (3 - i) * 1000)));

        expect(await store.pruneFinished(before, 2)).toBe(2);
        // Changed last at old + 3000, + 2000, + 1000: the two oldest are gone.
        expect(await store.getDelivery(customer, opened[0]!.id)).toBeDefined();
        expect(await store.getDelivery(customer, opened[1]!.id)).toBeUndefined();
        expect(await store.getDelivery(customer, opened[2]!.id)).toBeUndefined();
        expect(await store.pruneFinished(before, 2)).toBe(1);
        expect(await store.getDelivery(customer, opened[0]!.id)).toBeUndefined();
        expect(await store.getEvent(customer, "evt_1")).toBeUndefined();
        expect(await store.pruneFinished(before, 2)).toBe(0);
      });

      it("prunes a delivery's replays with it and keeps those of a delivery it keeps", async () => {
        const old = T0 - 1600 * DAY;
        const before = old + DAY;
        const customer = customerId();
        const webhook = await createdWebhook(customer);
        const events = ["evt_gone", "evt_kept"].map((id) => ({ ...makeEvent(customer, id), acceptedAt: old }));
        const [[gone], [kept]] = (await deliveriesFor(events, [webhook])) as [[Delivery], [Delivery]];
        await store.recordAttempts([recordAt(gone, 1, "dead", old + 1000), recordAt(kept, 1, "dead", old + 1000)]);
        await store.requeueDelivery(gone, old + 2000);
        await store.requeueDelivery(kept, old + 2000);
        // Dead again before the cutoff (pruned), and dead again after it (kept).
        await store.recordAttempts([recordAt(gone, 2, "dead", old + 3000), recordAt(kept, 2, "dead", before + DAY)]);

        expect(await store.pruneFinished(before, 100)).toBe(1);
        expect(await store.getDelivery(customer, gone.id)).toBeUndefined();
        expect(await store.listReplays(gone.id)).toEqual([]);
        expect(await store.listReplays(kept.id)).toEqual([old + 2000]);
      });

      it("keeps an old event that no dispatcher has read yet, though it has no delivery", async () => {
        if (!fixture.appendEvents) return; // this store only holds events it opened deliveries for
        const old = T0 - 1200 * DAY;
        const customer = customerId();
        const event = { ...makeEvent(customer, "evt_unread"), acceptedAt: old };
        await fixture.appendEvents([event]);
        await store.pruneFinished(old + DAY, 100);
        expect((await store.getEvent(customer, "evt_unread"))!.payload).toBe(event.payload);
      });
    });

    describe("the operator's reads over every customer", () => {
      /** An attempt (and the delivery's new state) written at `at`. */
      function outcomeAt(delivery: Delivery, attemptNumber: number, statusCode: number, status: DeliveryStatus, at: number): AttemptRecord {
        const record = attemptRecord(delivery, attemptNumber, statusCode, status, status === "failed" ? at + 60_000 : null);
        return { ...record, attempt: { ...record.attempt, createdAt: at } };
      }

      it("reads every customer's dead deliveries after a position, by time of death then id, page after page (operational webhooks)", async () => {
        const [a, b] = [customerId(), customerId()];
        const [wa, wb] = [await createdWebhook(a), await createdWebhook(b)];
        const later = T0 - 365 * 86_400_000; // before any other test's outcomes (made at T0 or later): this test's rows come first
        const [d1, d2, d3] = (await deliveriesFor([makeEvent(a, "dd_1"), makeEvent(a, "dd_2"), makeEvent(a, "dd_3")], [wa])).map((l) => l[0]!);
        const [e1] = (await deliveriesFor([makeEvent(b, "dd_b")], [wb])).map((l) => l[0]!);
        await store.recordAttempts([
          outcomeAt(d1!, 1, 410, "dead", later + 20),
          outcomeAt(d2!, 1, 500, "failed", later + 5),
          outcomeAt(d3!, 1, 410, "dead", later + 10),
          outcomeAt(e1!, 1, 410, "dead", later + 10),
        ]);
        const after = { updatedAt: later, id: "" };
        const all = await store.deadDeliveriesAfter(after, 3);
        const sameTime = [d3!.id, e1!.id].sort() as [string, string];
        expect(all.map((d) => d.id)).toEqual([...sameTime, d1!.id]);
        expect(all.every((d) => d.status === "dead")).toBe(true);
        const first = await store.deadDeliveriesAfter(after, 1);
        expect(first.map((d) => d.id)).toEqual([sameTime[0]]);
        const rest = await store.deadDeliveriesAfter({ updatedAt: first[0]!.updatedAt, id: first[0]!.id }, 2);
        expect(rest.map((d) => d.id)).toEqual([sameTime[1], d1!.id]);
        // Past the last of this test's, only other tests' (newer) ones remain.
        expect((await store.deadDeliveriesAfter({ updatedAt: later + 20, id: d1!.id }, 10)).every((d) => d.updatedAt >= T0)).toBe(true);
      });

      it("reads every customer's health changes after an id, in id (time) order (operational webhooks)", async () => {
        const [a, b] = [customerId(), customerId()];
        const [wa, wb] = [await createdWebhook(a), await createdWebhook(b)];
        const at = T0 - 365 * 86_400_000; // before any other test's health changes (made at T0 or later): this test's come first
        const disabledB = { id: newId("ope", at + 2), customerId: b, webhookId: wb.id, type: "webhook.disabled" as const, reason: "410 Gone", createdAt: at + 2 };
        const disabledA = { id: newId("ope", at + 1), customerId: a, webhookId: wa.id, type: "webhook.disabled" as const, reason: "410 Gone", createdAt: at + 1 };
        await store.disableWebhook(disabledB);
        await store.disableWebhook(disabledA);
        const read = await store.operationalEventsAfter(idFloor("ope", at), 2);
        expect(read.map((e) => e.id)).toEqual([disabledA.id, disabledB.id]);
        expect(read[0]).toEqual(disabledA);
        expect((await store.operationalEventsAfter(disabledA.id, 1)).map((e) => e.id)).toEqual([disabledB.id]);
        expect(await store.operationalEventsAfter(idFloor("ope", at), 1)).toHaveLength(1);
      });

      it("shows every webhook with its counts by status and newest failure, failing webhooks first, then by customer and id", async () => {
        // The failing webhook belongs to the customer that sorts last, so failing-first differs from customer order.
        const [low, high] = [customerId(), customerId()].sort();
        const failing = await createdWebhook(high!);
        const healthy = await createdWebhook(high!);
        const busy = await createdWebhook(low!);
        const idle = await createdWebhook(low!, { status: "disabled" });
        const firsts = async (events: Event[], webhook: Webhook) => (await deliveriesFor(events, [webhook])).map((list) => list[0]!);
        // evt_4 stays pending.
        const [fOk, fFailed, fDead, , fOlder] = await firsts(
          ["evt_1", "evt_2", "evt_3", "evt_4", "evt_5"].map((id) => makeEvent(high!, id)),
          failing,
        );
        const [hOk] = await firsts([makeEvent(high!, "evt_h")], healthy);
        const [bOk1, bOk2] = await firsts([makeEvent(low!, "evt_b1"), makeEvent(low!, "evt_b2"), makeEvent(low!, "evt_b3")], busy);
        // Written out of time order: the newest failure is neither the last written nor the greatest id.
        await store.recordAttempts([outcomeAt(fDead!, 2, 410, "dead", T0 + 30_000)]);
        await store.recordAttempts([
          outcomeAt(fOk!, 1, 200, "succeeded", T0 + 40_000),
          outcomeAt(fFailed!, 1, 503, "failed", T0 + 20_000),
          outcomeAt(fOlder!, 1, 500, "failed", T0 + 10_000),
          outcomeAt(hOk!, 1, 200, "succeeded", T0 + 50_000),
          outcomeAt(bOk1!, 1, 200, "succeeded", T0 + 1000),
          outcomeAt(bOk2!, 1, 204, "succeeded", T0 + 2000),
        ]);

        const all = await store.webhookHealth(100_000);
        const mine = all.filter((h) => h.webhook.customerId === low || h.webhook.customerId === high);
        const byId = (a: Webhook, b: Webhook) => (a.id < b.id ? -1 : 1);
        expect(mine.map((h) => h.webhook.id)).toEqual([failing.id, ...[busy, idle].sort(byId).map((w) => w.id), healthy.id]);
        expect(mine.find((h) => h.webhook.id === idle.id)!.webhook).toEqual(idle);

        // Counts are what listDeliveries finds for each webhook and status.
        for (const health of mine) {
          const truth: Record<string, number> = {};
          for (const status of ["pending", "succeeded", "failed", "dead"] as const)
            truth[status] = (await store.listDeliveries(health.webhook.customerId, { webhookId: health.webhook.id, status, limit: 100 })).data.length;
          expect(health.counts).toEqual(truth as unknown as typeof health.counts);
        }
        expect(mine[0]!.counts).toEqual({ pending: 1, succeeded: 1, failed: 2, dead: 1 });
        expect(mine[0]!.lastFailure).toEqual({ deliveryId: fDead!.id, eventId: "evt_3", status: "dead", statusCode: 410, error: "HTTP 410", at: T0 + 30_000 });
        expect(mine.slice(1).map((h) => h.lastFailure)).toEqual([null, null, null]);
        expect(mine.find((h) => h.webhook.id === busy.id)!.counts).toEqual({ pending: 1, succeeded: 2, failed: 0, dead: 0 });
        expect(mine.find((h) => h.webhook.id === idle.id)!.counts).toEqual({ pending: 0, succeeded: 0, failed: 0, dead: 0 });

        // Over the whole store: no healthy webhook before a failing one, and no webhook twice.
        const firstHealthy = all.findIndex((h) => h.lastFailure === null);
        expect(all.slice(firstHealthy).every((h) => h.lastFailure === null)).toBe(true);
        expect(new Set(all.map((h) => h.webhook.id)).size).toBe(all.length);
        // The limit: the first webhooks of the same order.
        const two = await store.webhookHealth(2);
        expect(two).toEqual(all.slice(0, 2));
      });

      it("lists failed and dead deliveries of every customer, newest first, at most `limit`, without succeeded, pending or requeued ones", async () => {
        // Later than anything else in the suite writes, so these are the store's newest changes.
        const late = Date.now() + 365 * 86_400_000;
        const [a, b] = [customerId(), customerId()];
        const wa = await createdWebhook(a);
        const wb = await createdWebhook(b);
        const [aFailed, aDead, aOk, aRequeued] = (
          await deliveriesFor(
            ["evt_1", "evt_2", "evt_3", "evt_4"].map((id) => makeEvent(a, id)),
            [wa],
          )
        ).map((l) => l[0]!);
        // evt_2 of b stays pending.
        const [bFailed] = (await deliveriesFor([makeEvent(b, "evt_1"), makeEvent(b, "evt_2")], [wb])).map((l) => l[0]!);
        await store.recordAttempts([
          outcomeAt(aFailed!, 1, 500, "failed", late + 1000),
          outcomeAt(bFailed!, 1, 503, "failed", late + 2000),
          outcomeAt(aDead!, 1, 410, "dead", late + 3000),
          outcomeAt(aOk!, 1, 200, "succeeded", late + 4000),
          outcomeAt(aRequeued!, 1, 410, "dead", late + 5000),
        ]);
        await store.requeueDelivery(aRequeued!, late + 6000);

        const recent = await store.recentFailures(3);
        expect(recent.map((d) => d.id)).toEqual([aDead!.id, bFailed!.id, aFailed!.id]);
        expect(recent[1]).toEqual((await store.getDelivery(b, bFailed!.id))!);
        expect((await store.recentFailures(2)).map((d) => d.id)).toEqual([aDead!.id, bFailed!.id]);
        const many = await store.recentFailures(100_000);
        expect(many.every((d) => d.status === "failed" || d.status === "dead")).toBe(true);
        expect(many.map((d) => d.id)).not.toContain(aOk!.id);
        expect(many.map((d) => d.id)).not.toContain(aRequeued!.id);
        expect(many.map((d) => d.updatedAt)).toEqual(many.map((d) => d.updatedAt).sort((x, y) => y - x));
      });

      it("finds an event id under every customer that has it, and nothing for an unknown id", async () => {
        const [a, b, c] = [customerId(), customerId(), customerId()];
        // One customer known to the customers table, one only by its events (an external issuer's tenant).
        await store.ensureCustomer(a, "Acme");
        const id = `evt_find_${Math.random().toString(36).slice(2, 10)}`;
        const ea = makeEvent(a, id, "order.created", { owner: "a" });
        const eb = makeEvent(b, id, "order.paid", { owner: "b" });
        for (const [customer, event] of [
          [a, ea],
          [b, eb],
          [c, makeEvent(c, `${id}_other`)],
        ] as const)
          await deliveriesFor([event], [await createdWebhook(customer)]);

        const found = await store.findEvents(id);
        expect(found.map((e) => [e.customerId, e.payload]).sort()).toEqual(
          [
            [a, ea.payload],
            [b, eb.payload],
          ].sort(),
        );
        expect(found.find((e) => e.customerId === b)).toMatchObject({ id, type: "order.paid", timestamp: eb.timestamp, acceptedAt: eb.acceptedAt });
        expect(await store.findEvents(`${id}_unknown`)).toEqual([]);
      });
    });

    describe("ordered delivery (a webhook's ordering)", () => {
      /** Events stored where the store keeps them (the log, or the outbox table), in this order. */
      async function stored(events: Event[]): Promise<void> {
        await fixture.appendEvents?.(events);
        // One at a time: the order they are stored in is the order under test. (A webhook is needed
        // only for the store to keep the event; it has no delivery stored.)
        for (const event of events) await store.saveEventsAndFindDeliveries([{ event, webhooks: [makeWebhook(event.customerId)] }]);
      }

      it("keeps an ordered delivery's queue and place; each queue's first unfinished is its head, the next once it is done", async () => {
        const customer = customerId();
        const since = await store.latestEventSeq(customer);
        const ordered = await createdWebhook(customer, { eventTypes: ["account.updated"], ordering: { key: "data.account", sinceSeq: since } });
        const plain = await createdWebhook(customer, { eventTypes: ["account.updated"] });
        const events = ["a", "b", "a", "b"].map((account, i) => makeEvent(customer, `evt_ord_${i}`, "account.updated", { account }));
        await stored(events);
        const opened = (
          await store.openDeliveries(
            events.map((event) => ({ event, webhooks: [ordered, plain] })),
            T0 + 1_000,
          )
        ).map(([o, p]) => ({ o: o!, p: p! }));
        expect(opened.map(({ o }) => o.fifoKey)).toEqual(["a", "b", "a", "b"]);
        expect(opened.map(({ p }) => p.fifoKey)).toEqual([null, null, null, null]);

        const read = await store.orderedEventsAfter(ordered, since, 10);
        expect(read.map(({ event }) => event.id)).toEqual(events.map((e) => e.id));
        const seqs = read.map(({ seq }) => seq);
        expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
        expect(new Set(seqs).size).toBe(4);
        expect(seqs[0]!).toBeGreaterThan(since);
        expect(await store.latestEventSeq(customer)).toBeGreaterThanOrEqual(seqs[3]!);
        expect((await store.orderedEventsAfter(ordered, seqs[1]!, 10)).map(({ event }) => event.id)).toEqual(["evt_ord_2", "evt_ord_3"]);
        expect(await store.orderedEventsAfter({ ...ordered, eventTypes: ["other.type"] }, since, 10)).toEqual([]);
        expect((await store.orderedEventsAfter({ ...ordered, eventTypes: ["*"] }, since, 2)).map(({ event }) => event.id)).toEqual(["evt_ord_0", "evt_ord_1"]);

        const heads = async (): Promise<unknown[][]> => (await store.fifoHeads(customer, ordered.id)).map((h) => [h.delivery.fifoKey, h.delivery.eventId, h.seq]).sort();
        expect(await heads()).toEqual([
          ["a", "evt_ord_0", seqs[0]],
          ["b", "evt_ord_1", seqs[1]],
        ]);
        expect(await store.finishedFifoSeq(customer, ordered.id)).toBe(0);
        // a's first fails (still the head: it is retried in place), b's first succeeds (b's next is the head).
        await store.recordAttempts([attemptRecord(opened[0]!.o, 1, 500, "failed", T0 + 5_000), attemptRecord(opened[1]!.o, 1, 200, "succeeded")]);
        expect(await heads()).toEqual([
          ["a", "evt_ord_0", seqs[0]],
          ["b", "evt_ord_3", seqs[3]],
        ]);
        expect(await store.finishedFifoSeq(customer, ordered.id)).toBe(seqs[1]!);
        await store.recordAttempts([attemptRecord(opened[0]!.o, 2, 500, "dead")]);
        expect(await heads()).toEqual([
          ["a", "evt_ord_2", seqs[2]],
          ["b", "evt_ord_3", seqs[3]],
        ]);
        expect(await store.finishedFifoSeq(customer, ordered.id)).toBe(seqs[1]!);
        // The sweep for overdue unfinished deliveries leaves the ordered ones to their turns; not the plain ones.
        const overdue = new Set((await store.overdueDeliveries(T0 + 3_600_000, 10_000)).map((o) => o.deliveryId));
        expect(opened.map(({ o }) => overdue.has(o.id))).toEqual([false, false, false, false]);
        expect(opened.map(({ p }) => overdue.has(p.id))).toEqual([true, true, true, true]);
        // Ordering turned off: they are the sweep's again.
        await store.updateWebhook({ ...ordered, ordering: null });
        const after = new Set((await store.overdueDeliveries(T0 + 3_600_000, 10_000)).map((o) => o.deliveryId));
        expect(after.has(opened[2]!.o.id)).toBe(true);
      });

      it("reads the ordering back as it was stored", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer, { ordering: { key: "data.account.id", sinceSeq: 12345 } });
        expect((await store.getWebhook(customer, webhook.id))!.ordering).toEqual({ key: "data.account.id", sinceSeq: 12345 });
        const whole = await createdWebhook(customer, { ordering: { key: null, sinceSeq: 7 } });
        expect((await store.getWebhook(customer, whole.id))!.ordering).toEqual({ key: null, sinceSeq: 7 });
        expect((await store.getWebhook(customer, (await createdWebhook(customer)).id))!.ordering).toBeNull();
      });
    });

    describe("finding events and a webhook's deliveries (newest first)", () => {
      const CODES: Record<DeliveryStatus, number | null> = { pending: null, succeeded: 200, failed: 500, dead: 410 };
      /** Stores the events with a delivery each to `webhook`, then brings each delivery to its status. */
      async function eventsWithStatuses(webhook: Webhook, items: { event: Event; status: DeliveryStatus }[]): Promise<Delivery[]> {
        const opened = (
          await deliveriesFor(
            items.map((i) => i.event),
            [webhook],
          )
        ).map(([d]) => d!);
        const records = items.flatMap(({ status }, i) => (status === "pending" ? [] : [attemptRecord(opened[i]!, 1, CODES[status], status, status === "failed" ? T0 + 60_000 : null)]));
        if (records.length > 0) await store.recordAttempts(records);
        return opened;
      }
      /** Every page of a listing, following next_cursor. */
      async function allPages<T>(list: (cursor?: string) => Promise<{ data: T[]; nextCursor: string | null }>, limit: number): Promise<T[][]> {
        const pages: T[][] = [];
        let cursor: string | undefined;
        do {
          const found = await list(cursor);
          expect(found.data.length).toBeLessThanOrEqual(limit);
          pages.push(found.data);
          cursor = found.nextCursor ?? undefined;
        } while (cursor && pages.length < 100);
        return pages;
      }

      it("pages through exactly the events the filter keeps, newest first, each once: type, time range, delivery status, ties in time (generated)", async () => {
        const status = fc.constantFrom<DeliveryStatus>("pending", "succeeded", "failed", "dead");
        const item = fc.record({ type: fc.constantFrom("a.created", "b.paid"), second: fc.integer({ min: 0, max: 12 }), status });
        const filter = fc.record(
          {
            type: fc.constantFrom("a.created", "b.paid", "c.none"),
            since: fc.integer({ min: 0, max: 12 }),
            until: fc.integer({ min: 1, max: 13 }),
            deliveryStatus: fc.constantFrom<"failed" | "pending">("failed", "pending"),
          },
          { requiredKeys: [] },
        );
        await fc.assert(
          fc.asyncProperty(fc.array(item, { minLength: 1, maxLength: 25 }), filter, fc.integer({ min: 1, max: 6 }), async (items, f, limit) => {
            fc.pre(f.since === undefined || f.until === undefined || f.since < f.until);
            const customer = customerId();
            const webhook = await createdWebhook(customer, { eventTypes: ["*"] });
            const stored = items.map((it, i) => ({ event: { ...makeEvent(customer, `e${String(i).padStart(2, "0")}`, it.type), acceptedAt: T0 + it.second * 1000 }, status: it.status }));
            await eventsWithStatuses(webhook, stored);
            const query = {
              type: f.type,
              since: f.since === undefined ? undefined : T0 + f.since * 1000,
              until: f.until === undefined ? undefined : T0 + f.until * 1000,
              deliveryStatus: f.deliveryStatus,
            };
            const pages = await allPages((cursor) => store.listEvents(customer, { ...query, limit, cursor }), limit);
            const wanted = { failed: ["failed", "dead"], pending: ["pending", "failed"] };
            const expected = stored
              .filter(
                ({ event, status }) =>
                  (query.type === undefined || event.type === query.type) &&
                  (query.since === undefined || event.acceptedAt >= query.since) &&
                  (query.until === undefined || event.acceptedAt < query.until) &&
                  (query.deliveryStatus === undefined || wanted[query.deliveryStatus].includes(status)),
              )
              .sort((x, y) => y.event.acceptedAt - x.event.acceptedAt || (y.event.id < x.event.id ? -1 : 1))
              .map(({ event }) => event.id);
            expect(pages.flat().map((e) => e.id)).toEqual(expected);
            // Whole events, as stored; and no page but the last is short (no window is full here).
            expect(pages.flat().every((e) => e.customerId === customer && e.payload.includes(`"id":"${e.id}"`))).toBe(true);
            expect(pages.slice(0, -1).every((p) => p.length === limit)).toBe(true);
          }),
          { numRuns: 40 },
        );
      });

      it("with a delivery status, looks at EVENT_SCAN_WINDOW events a page at most: a short page goes on with a cursor from where it stopped", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer, { eventTypes: ["*"] });
        // The oldest event failed; the 10,000 after it succeeded.
        const items = Array.from({ length: EVENT_SCAN_WINDOW + 1 }, (_, i) => ({
          event: { ...makeEvent(customer, `w${String(i).padStart(5, "0")}`), acceptedAt: T0 + i },
          status: (i === 0 ? "failed" : "succeeded") as DeliveryStatus,
        }));
        for (let i = 0; i < items.length; i += 2000) await eventsWithStatuses(webhook, items.slice(i, i + 2000));
        const first = await store.listEvents(customer, { deliveryStatus: "failed", limit: 10 });
        expect(first.data).toEqual([]);
        expect(first.nextCursor).not.toBeNull();
        const second = await store.listEvents(customer, { deliveryStatus: "failed", limit: 10, cursor: first.nextCursor! });
        expect({ ids: second.data.map((e) => e.id), next: second.nextCursor }).toEqual({ ids: ["w00000"], next: null });
        // Without the filter, a page is a page.
        expect((await store.listEvents(customer, { limit: 3 })).data.map((e) => e.id)).toEqual(["w10000", "w09999", "w09998"]);
      });

      it("refuses a cursor it did not make, and a time range that is empty, naming them", async () => {
        const customer = customerId();
        await expect(store.listEvents(customer, { limit: 5, cursor: "not-a-cursor" })).rejects.toThrow("cursor: not a cursor of this list");
        await expect(store.listEvents(customer, { limit: 5, since: T0 + 10, until: T0 + 10 })).rejects.toThrow("since: must be before until");
      });

      it("lists one webhook's deliveries newest event first, by status and event time, each once across pages", async () => {
        const customer = customerId();
        const webhook = await createdWebhook(customer, { eventTypes: ["*"] });
        const other = await createdWebhook(customer, { eventTypes: ["*"] });
        const statuses: DeliveryStatus[] = ["pending", "succeeded", "failed", "dead"];
        const items = Array.from({ length: 23 }, (_, i) => ({
          event: { ...makeEvent(customer, `d${String(i).padStart(2, "0")}`), acceptedAt: T0 + Math.floor(i / 2) * 1000 },
          status: statuses[i % 4]!,
        }));
        const mine = await eventsWithStatuses(webhook, items);
        await eventsWithStatuses(other, items);
        for (const [status, since, until] of [
          [undefined, undefined, undefined],
          ["failed", undefined, undefined],
          [undefined, T0 + 3000, T0 + 8000],
          ["succeeded", T0 + 2000, undefined],
        ] as const) {
          const pages = await allPages((cursor) => store.listDeliveries(customer, { webhookId: webhook.id, status, since, until, newestFirst: true, limit: 4, cursor }), 4);
          const expected = mine
            .filter(
              (_, i) =>
                (status === undefined || items[i]!.status === status) && (since === undefined || items[i]!.event.acceptedAt >= since) && (until === undefined || items[i]!.event.acceptedAt < until),
            )
            .map((d) => d.id)
            .sort()
            .reverse();
          expect({ status, since, until, ids: pages.flat().map((d) => d.id) }).toEqual({ status, since, until, ids: expected });
        }
      });
    });

    describe("the event type catalog", () => {
      const eventType = (customer: string, name: string, overrides: Partial<EventType> = {}): EventType => ({
        customerId: customer,
        name,
        description: `about ${name}`,
        schema: { type: "object", properties: { n: { type: "integer" } } },
        examples: [{ n: 1 }, { n: 2 }],
        createdAt: "2026-12-05T10:00:00.000Z",
        updatedAt: "2026-12-05T10:00:00.000Z",
        ...overrides,
      });

      it("keeps each customer's event types by name: create once, read, page by name, change, delete", async () => {
        const [a, b] = [customerId(), customerId()];
        expect(await store.eventTypes.create(eventType(a, "order.created"))).toBe(true);
        expect(await store.eventTypes.create(eventType(a, "order.created", { description: "again" }))).toBe(false);
        expect(await store.eventTypes.create(eventType(a, "billing/invoice:paid", { schema: null, examples: [] }))).toBe(true);
        expect(await store.eventTypes.create(eventType(b, "order.created", { description: "b's own" }))).toBe(true);
        expect(await store.eventTypes.get(a, "order.created")).toEqual(eventType(a, "order.created"));
        expect((await store.eventTypes.get(a, "billing/invoice:paid"))!.schema).toBeNull();
        expect((await store.eventTypes.get(b, "order.created"))!.description).toBe("b's own");
        expect(await store.eventTypes.get(a, "nope")).toBeUndefined();
        for (const name of ["c.1", "c.2", "c.3"]) await store.eventTypes.create(eventType(a, name));
        const first = await store.eventTypes.list(a, 2);
        expect({ names: first.data.map((t) => t.name), next: first.nextCursor }).toEqual({ names: ["billing/invoice:paid", "c.1"], next: "c.1" });
        const rest = await store.eventTypes.list(a, 10, first.nextCursor!);
        expect({ names: rest.data.map((t) => t.name), next: rest.nextCursor }).toEqual({ names: ["c.2", "c.3", "order.created"], next: null });
        const changed = eventType(a, "order.created", { description: "changed", schema: null, examples: [], updatedAt: "2026-12-05T11:00:00.000Z" });
        expect(await store.eventTypes.update(changed)).toBe(true);
        expect(await store.eventTypes.get(a, "order.created")).toEqual(changed);
        expect(await store.eventTypes.update(eventType(a, "nope"))).toBe(false);
        expect(await store.eventTypes.delete(a, "order.created")).toBe(true);
        expect(await store.eventTypes.delete(a, "order.created")).toBe(false);
        expect(await store.eventTypes.get(a, "order.created")).toBeUndefined();
        expect((await store.eventTypes.get(b, "order.created"))!.description).toBe("b's own");
        // The operator's view: every customer's, by customer then name.
        const all = (await store.eventTypes.all(100_000)).filter((t) => t.customerId === a || t.customerId === b).map((t) => `${t.customerId} ${t.name}`);
        expect(all).toEqual([...[`${a} billing/invoice:paid`, `${a} c.1`, `${a} c.2`, `${a} c.3`], `${b} order.created`].sort());
        expect(await store.eventTypes.all(2)).toHaveLength(2);
      });
    });

    describe("customer isolation", () => {
      it("keeps one customer's webhooks out of another's reach", async () => {
        const a = customerId();
        const b = customerId();
        const webhook = await createdWebhook(a);
        await createdWebhook(b);
        expect(await store.getWebhook(b, webhook.id)).toBeUndefined();
        expect((await store.listWebhooks(b, 100)).data.map((w) => w.id)).not.toContain(webhook.id);
        expect(await store.deleteWebhook(b, webhook.id)).toBe(false);
        await store.updateWebhook({ ...webhook, customerId: b, url: "https://evil.example/steal" });
        expect(await store.getWebhook(a, webhook.id)).toEqual(webhook);
      });

      it("keeps one customer's deliveries, attempts and events out of another's reach", async () => {
        const a = customerId();
        const b = customerId();
        const webhook = await createdWebhook(a);
        const [[delivery]] = (await deliveriesFor([makeEvent(a, "evt_private")], [webhook])) as [[Delivery]];
        expect(await store.getDelivery(b, delivery.id)).toBeUndefined();
        expect((await store.listDeliveries(b, { limit: 100 })).data).toEqual([]);
        expect((await store.listDeliveries(b, { limit: 100, webhookId: webhook.id })).data).toEqual([]);
        expect((await store.listDeliveries(b, { limit: 100, eventId: "evt_private" })).data).toEqual([]);
        expect(await store.getEvent(b, "evt_private")).toBeUndefined();
        expect((await store.listDeliveries(a, { limit: 100 })).data.map((d) => d.id)).toEqual([delivery.id]);
      });

      it("keeps the same event id of two customers as two events with their own deliveries", async () => {
        const a = customerId();
        const b = customerId();
        const wa = await createdWebhook(a);
        const wb = await createdWebhook(b);
        const ea = makeEvent(a, "evt_shared", "order.created", { owner: "a" });
        const eb = makeEvent(b, "evt_shared", "order.created", { owner: "b" });
        await fixture.appendEvents?.([ea, eb]);
        const [[da], [db]] = (await store.openDeliveries(
          [
            { event: ea, webhooks: [wa] },
            { event: eb, webhooks: [wb] },
          ],
          T0 + 1_000,
        )) as [[Delivery], [Delivery]];
        expect(da.id).not.toBe(db.id);
        expect((await store.getEvent(a, "evt_shared"))!.payload).toBe(ea.payload);
        expect((await store.getEvent(b, "evt_shared"))!.payload).toBe(eb.payload);
        expect((await store.deliveryWork([db.id]))[0]!.event.payload).toBe(eb.payload);
      });
    });
  });
}
