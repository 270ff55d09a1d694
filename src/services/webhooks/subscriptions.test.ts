import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../adapters/sqlite/database.ts";
import { migrateUp } from "../../adapters/sqlite/migrations.ts";
import { SqliteStore } from "../../adapters/sqlite/store.ts";
import { UnavailableError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import { NEW_WEBHOOK_STATE, type Webhook } from "../../domain/model.ts";
import { Subscriptions, type WebhookSource } from "./subscriptions.ts";

const dataDir = mkdtempSync(join(tmpdir(), "hookrelay-subscriptions-"));
const db = openDatabase({ dataDir, synchronous: "NORMAL" });
migrateUp(db);
afterAll(() => {
  db.close();
  rmSync(dataDir, { recursive: true, force: true });
});

/** The real store, except that the next `failures` reads of the webhooks' version fail as a restarting backend's do. */
class RestartingStore extends SqliteStore {
  failures = 0;
  versionReads = 0;
  listReads = 0;
  override async webhooksVersion(): Promise<number> {
    this.versionReads++;
    if (this.failures > 0) {
      this.failures--;
      throw new UnavailableError("database unavailable (CONNECTION_CLOSED); try again");
    }
    return super.webhooksVersion();
  }
  override async activeWebhooks(): Promise<Webhook[]> {
    this.listReads++;
    return super.activeWebhooks();
  }
}

function orderWebhook(customerId: string): Webhook {
  const at = new Date().toISOString();
  return {
    id: newId("wh"),
    customerId,
    url: "https://example.com/hooks",
    eventTypes: ["order.paid"],
    headers: {},
    description: null,
    secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    status: "active",
    ...NEW_WEBHOOK_STATE,
    createdAt: at,
    updatedAt: at,
  };
}

describe("the dispatcher's subscriptions", () => {
  // Shrunk from the no-loss property (production, seed 1134166618): a batch accepted, PostgreSQL
  // restarted 31 ms later; the dispatch that read the batch failed on the version check, and the
  // dispatch tried again matched the batch against the index from before the webhooks existed.
  it("a failed check does not make the old index fresh: events accepted before it still see the webhooks made before them", async () => {
    const store = new RestartingStore(db);
    const subscriptions = new Subscriptions(store, 1_000);
    const t0 = 1_000_000;
    expect((await subscriptions.current(t0, t0 - 10)).match("acme", "order.paid")).toEqual([]);

    const webhook = orderWebhook("acme");
    await store.createWebhook(webhook);
    const acceptedAt = t0 + 100; // after the webhook was created
    store.failures = 1;
    await expect(subscriptions.current(t0 + 150, acceptedAt)).rejects.toThrow("CONNECTION_CLOSED");
    const matched = (await subscriptions.current(t0 + 200, acceptedAt)).match("acme", "order.paid");
    expect(matched.map((w) => w.id)).toEqual([webhook.id]);
  });

  it("a check that answered is fresh until check_every: no read of the store for events accepted well before it", async () => {
    const store = new RestartingStore(db);
    const subscriptions = new Subscriptions(store, 5_000);
    const t0 = 2_000_000;
    await subscriptions.current(t0, t0 - 10);
    store.failures = 1; // a read now would fail
    await subscriptions.current(t0 + 500, t0 - 2_000);
    expect(store.failures).toBe(1);
    await expect(subscriptions.current(t0 + 5_000, t0 - 2_000)).rejects.toThrow("CONNECTION_CLOSED");
  });

  it("an event stamped up to a second before the last check by a clock behind the dispatcher's still sees a webhook created after that check", async () => {
    const store = new RestartingStore(db);
    const subscriptions = new Subscriptions(store, 5_000);
    const t0 = 3_000_000;
    await subscriptions.current(t0, t0 - 10); // the check, before the webhook exists
    const webhook = orderWebhook("skewed");
    await store.createWebhook(webhook);
    // Accepted after the webhook was created, on an ingest host whose clock is 800 ms behind.
    const matched = (await subscriptions.current(t0 + 50, t0 + 20 - 800)).match("skewed", "order.paid");
    expect(matched.map((w) => w.id)).toEqual([webhook.id]);
  });
});

describe("ingest's subscriptions (afterNow)", () => {
  it("counts a webhook created just before the call, and reloads the webhooks only when the version changed", async () => {
    const store = new RestartingStore(db);
    const subscriptions = new Subscriptions(store);
    for (let i = 0; i < 5; i++) {
      const webhook = orderWebhook(`fresh-${i}`);
      await store.createWebhook(webhook);
      expect((await subscriptions.afterNow()).match(`fresh-${i}`, "order.paid").map((w) => w.id)).toEqual([webhook.id]);
    }
    const lists = store.listReads;
    await subscriptions.afterNow();
    await subscriptions.afterNow();
    expect(store.listReads).toBe(lists);
  });

  it("one version read serves every call made before it began; calls made while it runs wait for the next", async () => {
    let version = 1;
    let versionReads = 0;
    const releases: (() => void)[] = [];
    const webhooks: Webhook[] = [];
    let asOfLastRead: Webhook[] = [];
    // A store as of when each version read began (a read that has begun sees nothing committed after).
    const source: WebhookSource = {
      webhooksVersion: () => {
        versionReads++;
        const read = version;
        const list = [...webhooks];
        return new Promise((resolve) => releases.push(() => resolve(read))).then((v) => {
          asOfLastRead = list;
          return v as number;
        });
      },
      activeWebhooks: async () => asOfLastRead,
    };
    const subscriptions = new Subscriptions(source);
    const first = [subscriptions.afterNow(), subscriptions.afterNow(), subscriptions.afterNow()];
    await Bun.sleep(1);
    expect(versionReads).toBe(1);
    // A webhook created while that read runs: the calls made now must see it, so they wait for the next read.
    webhooks.push(orderWebhook("late"));
    version = 2;
    const second = [subscriptions.afterNow(), subscriptions.afterNow()];
    await Bun.sleep(1);
    expect(versionReads).toBe(1);
    releases[0]!();
    for (const index of await Promise.all(first)) expect(index.match("late", "order.paid")).toHaveLength(0);
    await Bun.sleep(1);
    expect(versionReads).toBe(2);
    releases[1]!();
    for (const index of await Promise.all(second)) expect(index.match("late", "order.paid")).toHaveLength(1);
  });

  it("a failed read fails the calls that waited for it; the next call reads again", async () => {
    const store = new RestartingStore(db);
    const subscriptions = new Subscriptions(store);
    const webhook = orderWebhook("after-failure");
    await store.createWebhook(webhook);
    store.failures = 1;
    const failed = await Promise.all(
      [subscriptions.afterNow(), subscriptions.afterNow()].map((p) =>
        p.then(
          () => null,
          (err: Error) => err.message,
        ),
      ),
    );
    expect(failed).toEqual([expect.stringContaining("CONNECTION_CLOSED"), expect.stringContaining("CONNECTION_CLOSED")]);
    expect((await subscriptions.afterNow()).match("after-failure", "order.paid").map((w) => w.id)).toEqual([webhook.id]);
  });

  describe("watched (the store sends change notices)", () => {
    /** The real store, sending a notice after each webhook change, as PostgreSQL's LISTEN does. */
    class NoticingStore extends RestartingStore {
      private listeners: (() => void)[] = [];
      override async watchWebhooks(onChange: () => void): Promise<() => Promise<void>> {
        this.listeners.push(onChange);
        return async () => {
          this.listeners = this.listeners.filter((l) => l !== onChange);
        };
      }
      notice(): void {
        for (const listener of this.listeners) listener();
      }
      override async createWebhook(webhook: Webhook): Promise<void> {
        await super.createWebhook(webhook);
        this.notice();
      }
      /** While set, version reads answer only once it resolves (a slow round trip). */
      gate: Promise<void> | undefined;
      override async webhooksVersion(): Promise<number> {
        const version = await super.webhooksVersion();
        await this.gate;
        return version;
      }
    }

    it("reads only after a notice: a webhook is counted from its notice on, and calls between notices cost no read", async () => {
      const store = new NoticingStore(db);
      const subscriptions = new Subscriptions(store);
      const stop = await subscriptions.watch();
      await subscriptions.afterNow();
      const reads = store.versionReads;
      for (let i = 0; i < 50; i++) await subscriptions.afterNow();
      expect(store.versionReads).toBe(reads);
      for (let i = 0; i < 3; i++) {
        const webhook = orderWebhook(`noticed-${i}`);
        await store.createWebhook(webhook);
        expect((await subscriptions.afterNow()).match(`noticed-${i}`, "order.paid").map((w) => w.id)).toEqual([webhook.id]);
      }
      expect(store.versionReads).toBe(reads + 3);
      // Stopped, every call reads again (the read-per-call mode).
      await stop();
      await subscriptions.afterNow();
      expect(store.versionReads).toBe(reads + 4);
    });

    it("a notice that comes while a read runs makes the next call read again", async () => {
      let version = 1;
      const webhooks: Webhook[] = [];
      let release: (() => void) | undefined;
      let notify = () => {};
      let seen: Webhook[] = [];
      // A read sees what was committed when it began; this one waits until released.
      const source: WebhookSource = {
        webhooksVersion: async () => {
          const [read, list] = [version, [...webhooks]];
          await new Promise<void>((resolve) => {
            release = resolve;
          });
          seen = list;
          return read;
        },
        activeWebhooks: async () => seen,
        watchWebhooks: async (onChange) => {
          notify = onChange;
          return async () => {};
        },
      };
      const subscriptions = new Subscriptions(source);
      await subscriptions.watch();
      const reading = subscriptions.afterNow();
      await Bun.sleep(1);
      // Committed after that read began, its notice comes while it runs.
      webhooks.push(orderWebhook("during-read"));
      version = 2;
      notify();
      release!();
      expect((await reading).match("during-read", "order.paid")).toHaveLength(0);
      const next = subscriptions.afterNow();
      await Bun.sleep(1);
      release!();
      expect((await next).match("during-read", "order.paid")).toHaveLength(1);
    });

    it("a call made while the read after a notice runs waits for that read, not the index from before", async () => {
      const store = new NoticingStore(db);
      const subscriptions = new Subscriptions(store);
      await subscriptions.watch();
      await subscriptions.afterNow();
      const webhook = orderWebhook("concurrent");
      await store.createWebhook(webhook); // its notice marks the index stale
      // Many requests at once, as under load: the first starts the read, the rest come while it runs.
      let open = () => {};
      store.gate = new Promise((resolve) => {
        open = resolve;
      });
      const first = subscriptions.afterNow();
      await Bun.sleep(5);
      const calls = Array.from({ length: 20 }, () => subscriptions.afterNow());
      open();
      const during = await Promise.all(calls);
      for (const index of [await first, ...during]) expect(index.match("concurrent", "order.paid").map((w) => w.id)).toEqual([webhook.id]);
    });

    it("without notices, reads again once a second has passed, and after a failed read", async () => {
      const store = new NoticingStore(db);
      const subscriptions = new Subscriptions(store);
      await subscriptions.watch();
      await subscriptions.afterNow();
      const reads = store.versionReads;
      await subscriptions.afterNow();
      expect(store.versionReads).toBe(reads);
      await Bun.sleep(1_050);
      await subscriptions.afterNow();
      expect(store.versionReads).toBe(reads + 1);
      store.failures = 1;
      store.notice();
      await expect(subscriptions.afterNow()).rejects.toThrow("CONNECTION_CLOSED");
      await subscriptions.afterNow();
      expect(store.versionReads).toBe(reads + 3);
    });
  });
});
