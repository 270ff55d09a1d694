import { afterAll, describe, expect, it } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../adapters/sqlite/database.ts";
import { migrateUp } from "../../adapters/sqlite/migrations.ts";
import { SqliteStore } from "../../adapters/sqlite/store.ts";
import { UnavailableError } from "../../domain/errors.ts";
import { newId } from "../../domain/ids.ts";
import type { Webhook } from "../../domain/model.ts";
import { Subscriptions } from "./subscriptions.ts";

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
  override async webhooksVersion(): Promise<number> {
    if (this.failures > 0) {
      this.failures--;
      throw new UnavailableError("database unavailable (CONNECTION_CLOSED); try again");
    }
    return super.webhooksVersion();
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
