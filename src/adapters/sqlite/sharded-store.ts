/**
 * @module The Store, Accounts and RetrySchedule ports over every shard's file, for the roles that
 * serve the API (gateway, registry, observability): a customer's rows are read and written in the
 * file of the shard that owns it, reads over every customer are merged, users and settings live in
 * shard 0's file. The management API's writes are rare; they go straight into the owner's file
 * (SQLite serialises them with the owner's own commits). Delivery roles use their own shard's
 * adapters, never these.
 */
import type { ApiKey, Attempt, Customer, Delivery, Event, EventType, OperationalEvent, Page, Pause, User, Webhook } from "../../domain/model.ts";
import type {
  Accounts,
  AttemptRecord,
  DeliveryActivity,
  DeliveryCounts,
  DeliveryFilter,
  DeliveryWork,
  EventFilter,
  EventTypes,
  FanOut,
  FifoHead,
  RecoveryJobs,
  RetrySchedule,
  ScheduledRetry,
  Store,
  WebhookHealth,
} from "../../domain/ports.ts";
import { byShard, shardOf } from "./shards.ts";

/** Merges pages read with the same `limit` and cursor from every shard, ordered by id. */
function mergePages<T extends { id: string }>(pages: Page<T>[], limit: number): Page<T> {
  const rows = pages.flatMap((p) => p.data).sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const data = rows.slice(0, limit);
  const more = rows.length > limit || pages.some((p) => p.nextCursor !== null);
  return { data, nextCursor: more && data.length > 0 ? data[data.length - 1]!.id : null };
}

const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);

export class ShardedStore implements Store {
  /** Each customer's catalog is its shard's; the operator's view gathers every shard's. */
  readonly eventTypes: EventTypes = {
    create: (t) => this.of(t.customerId).eventTypes.create(t),
    get: (customerId, name) => this.of(customerId).eventTypes.get(customerId, name),
    list: (customerId, limit, cursor) => this.of(customerId).eventTypes.list(customerId, limit, cursor),
    update: (t) => this.of(t.customerId).eventTypes.update(t),
    delete: (customerId, name) => this.of(customerId).eventTypes.delete(customerId, name),
    all: async (limit) => {
      const key = (t: EventType) => `${t.customerId}\u0000${t.name}`;
      return (await this.all((s) => s.eventTypes.all(limit)))
        .flat()
        .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
        .slice(0, limit);
    },
  };

  /** A customer's jobs are its shard's; each shard's retry role runs its own. */
  readonly recoveryJobs: RecoveryJobs = {
    create: (job) => this.of(job.customerId).recoveryJobs.create(job),
    get: (customerId, id) => this.of(customerId).recoveryJobs.get(customerId, id),
    claim: async (now, leaseMs) => {
      for (const shard of this.shards) {
        const job = await shard.recoveryJobs.claim(now, leaseMs);
        if (job) return job;
      }
      return undefined;
    },
    save: (job) => this.of(job.customerId).recoveryJobs.save(job),
    cancel: (customerId, id, now) => this.of(customerId).recoveryJobs.cancel(customerId, id, now),
    count: (customerId, webhookId, status, since, until) => this.of(customerId).recoveryJobs.count(customerId, webhookId, status, since, until),
    finished: (e) => this.of(e.customerId).recoveryJobs.finished(e),
  };

  constructor(private readonly shards: Store[]) {}

  private of(customerId: string): Store {
    return this.shards[shardOf(customerId, this.shards.length)]!;
  }

  private get control(): Store {
    return this.shards[0]!;
  }

  private all<R>(read: (store: Store) => Promise<R>): Promise<R[]> {
    return Promise.all(this.shards.map(read));
  }

  async ping(): Promise<void> {
    await this.all((s) => s.ping());
  }

  ensureCustomer(id: string, name: string): Promise<void> {
    return this.of(id).ensureCustomer(id, name);
  }
  getUser(username: string): Promise<User | undefined> {
    return this.control.getUser(username);
  }
  putUser(user: User): Promise<void> {
    return this.control.putUser(user);
  }
  settingOrInit(key: string, value: string): Promise<string> {
    return this.control.settingOrInit(key, value);
  }

  createWebhook(webhook: Webhook): Promise<void> {
    return this.of(webhook.customerId).createWebhook(webhook);
  }
  getWebhook(customerId: string, id: string): Promise<Webhook | undefined> {
    return this.of(customerId).getWebhook(customerId, id);
  }
  listWebhooks(customerId: string, limit: number, cursor?: string): Promise<Page<Webhook>> {
    return this.of(customerId).listWebhooks(customerId, limit, cursor);
  }
  updateWebhook(webhook: Webhook): Promise<void> {
    return this.of(webhook.customerId).updateWebhook(webhook);
  }
  deleteWebhook(customerId: string, id: string): Promise<boolean> {
    return this.of(customerId).deleteWebhook(customerId, id);
  }
  disableWebhook(event: OperationalEvent): Promise<Webhook | undefined> {
    return this.of(event.customerId).disableWebhook(event);
  }
  pauseWebhook(event: OperationalEvent, pause: Pause): Promise<Webhook | undefined> {
    return this.of(event.customerId).pauseWebhook(event, pause);
  }
  resumeWebhook(event: OperationalEvent): Promise<Webhook | undefined> {
    return this.of(event.customerId).resumeWebhook(event);
  }
  async claimProbes(now: number, leaseMs: number, limit: number): Promise<Webhook[]> {
    return (await this.all((s) => s.claimProbes(now, leaseMs, limit))).flat();
  }
  reprobe(customerId: string, webhookId: string, pause: Pause): Promise<boolean> {
    return this.of(customerId).reprobe(customerId, webhookId, pause);
  }
  unfinishedDeliveries(customerId: string, webhookId: string, limit: number, after?: string): Promise<Delivery[]> {
    return this.of(customerId).unfinishedDeliveries(customerId, webhookId, limit, after);
  }
  latestEventSeq(customerId: string): Promise<number> {
    return this.of(customerId).latestEventSeq(customerId);
  }
  orderedEventsAfter(webhook: Webhook, afterSeq: number, limit: number): Promise<{ seq: number; event: Event }[]> {
    return this.of(webhook.customerId).orderedEventsAfter(webhook, afterSeq, limit);
  }
  fifoHeads(customerId: string, webhookId: string): Promise<FifoHead[]> {
    return this.of(customerId).fifoHeads(customerId, webhookId);
  }
  finishedFifoSeq(customerId: string, webhookId: string): Promise<number> {
    return this.of(customerId).finishedFifoSeq(customerId, webhookId);
  }
  deliveryActivity(customerId: string, webhookId: string): Promise<DeliveryActivity> {
    return this.of(customerId).deliveryActivity(customerId, webhookId);
  }
  listOperationalEvents(customerId: string, filter: { webhookId?: string; limit: number; cursor?: string }): Promise<Page<OperationalEvent>> {
    return this.of(customerId).listOperationalEvents(customerId, filter);
  }
  async activeWebhooks(): Promise<Webhook[]> {
    return (await this.all((s) => s.activeWebhooks())).flat();
  }
  async resealSecrets(): Promise<number> {
    return sum(await this.all((s) => s.resealSecrets()));
  }
  /** Each shard's version only grows: their sum changes whenever any of them does. */
  async webhooksVersion(): Promise<number> {
    return sum(await this.all((s) => s.webhooksVersion()));
  }

  saveEventsAndFindDeliveries(items: FanOut[]): Promise<Delivery[][]> {
    return byShard(
      items,
      (i) => this.shardOf(i.event.customerId),
      (shard, part) => this.shards[shard]!.saveEventsAndFindDeliveries(part),
    );
  }
  openDeliveries(items: FanOut[], dueAt: number): Promise<Delivery[][]> {
    return byShard(
      items,
      (i) => this.shardOf(i.event.customerId),
      (shard, part) => this.shards[shard]!.openDeliveries(part, dueAt),
    );
  }
  getDelivery(customerId: string, id: string): Promise<Delivery | undefined> {
    return this.of(customerId).getDelivery(customerId, id);
  }
  async deliveryWork(deliveryIds: string[]): Promise<DeliveryWork[]> {
    return (await this.all((s) => s.deliveryWork(deliveryIds))).flat();
  }
  async overdueDeliveries(before: number, limit: number): Promise<ScheduledRetry[]> {
    return (await this.all((s) => s.overdueDeliveries(before, limit)))
      .flat()
      .sort((a, b) => a.dueAt - b.dueAt)
      .slice(0, limit);
  }
  listEvents(customerId: string, filter: EventFilter): Promise<Page<Event>> {
    return this.of(customerId).listEvents(customerId, filter);
  }

  listDeliveries(customerId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
    return this.of(customerId).listDeliveries(customerId, filter);
  }

  async countDeliveries(): Promise<DeliveryCounts> {
    const counts = await this.all((s) => s.countDeliveries());
    return {
      pending: sum(counts.map((c) => c.pending)),
      succeeded: sum(counts.map((c) => c.succeeded)),
      failed: sum(counts.map((c) => c.failed)),
      dead: sum(counts.map((c) => c.dead)),
    };
  }
  async recordAttempts(records: AttemptRecord[]): Promise<void> {
    await byShard(
      records,
      (r) => this.shardOf(r.delivery.customerId),
      async (shard, part) => {
        await this.shards[shard]!.recordAttempts(part);
        return part.map(() => undefined);
      },
    );
  }
  /** A delivery's id names no customer: every shard is asked (one keyed read each). */
  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return (await this.all((s) => s.listAttempts(deliveryId))).flat();
  }
  requeueDelivery(delivery: Delivery, at: number): Promise<Delivery> {
    return this.of(delivery.customerId).requeueDelivery(delivery, at);
  }
  async listReplays(deliveryId: string): Promise<number[]> {
    return (await this.all((s) => s.listReplays(deliveryId))).flat();
  }
  /** Failing webhooks first, then by customer and id: the order of one shard's answer, kept over all. */
  async webhookHealth(limit: number): Promise<WebhookHealth[]> {
    const key = (h: WebhookHealth) => `${h.lastFailure ? 0 : 1}\u0000${h.webhook.customerId}\u0000${h.webhook.id}`;
    return (await this.all((s) => s.webhookHealth(limit)))
      .flat()
      .sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
      .slice(0, limit);
  }
  async recentFailures(limit: number): Promise<Delivery[]> {
    return (await this.all((s) => s.recentFailures(limit)))
      .flat()
      .sort((a, b) => b.updatedAt - a.updatedAt)
      .slice(0, limit);
  }
  async operationalEventsAfter(afterId: string, limit: number): Promise<OperationalEvent[]> {
    return (await this.all((s) => s.operationalEventsAfter(afterId, limit)))
      .flat()
      .sort((a, b) => (a.id < b.id ? -1 : 1))
      .slice(0, limit);
  }
  async deadDeliveriesAfter(after: { updatedAt: number; id: string }, limit: number): Promise<Delivery[]> {
    return (await this.all((s) => s.deadDeliveriesAfter(after, limit)))
      .flat()
      .sort((a, b) => a.updatedAt - b.updatedAt || (a.id < b.id ? -1 : 1))
      .slice(0, limit);
  }
  async findEvents(id: string): Promise<Event[]> {
    return (await this.all((s) => s.findEvents(id))).flat().sort((a, b) => (a.customerId < b.customerId ? -1 : 1));
  }
  getEvent(customerId: string, id: string): Promise<Event | undefined> {
    return this.of(customerId).getEvent(customerId, id);
  }
  async pruneFinished(before: number, limit: number): Promise<number> {
    return sum(await this.all((s) => s.pruneFinished(before, limit)));
  }

  private shardOf(customerId: string): number {
    return shardOf(customerId, this.shards.length);
  }

  /** The shard holding a delivery, found by asking each; undefined when none has it. */
  async shardOfDelivery(deliveryId: string): Promise<number | undefined> {
    const found = await this.all(async (s) => (await s.deliveryWork([deliveryId])).length > 0);
    const shard = found.indexOf(true);
    return shard < 0 ? undefined : shard;
  }
}

export class ShardedAccounts implements Accounts {
  constructor(
    private readonly shards: Accounts[],
    /** This process's own shard: an API key is looked for there first. */
    private readonly own: number,
  ) {}

  private of(customerId: string): Accounts {
    return this.shards[shardOf(customerId, this.shards.length)]!;
  }

  async ping(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.ping()));
  }
  createCustomer(customer: Customer): Promise<boolean> {
    return this.of(customer.id).createCustomer(customer);
  }
  getCustomer(id: string): Promise<Customer | undefined> {
    return this.of(id).getCustomer(id);
  }
  async listCustomers(limit: number, cursor?: string): Promise<Page<Customer>> {
    return mergePages(await Promise.all(this.shards.map((s) => s.listCustomers(limit, cursor))), limit);
  }
  createApiKey(key: ApiKey): Promise<void> {
    return this.of(key.customerId).createApiKey(key);
  }
  /** A key's hash names no customer: this process's shard first, then the others (ApiKeys caches the answer). */
  async apiKeyByHash(hash: string): Promise<ApiKey | undefined> {
    const order = [this.own, ...this.shards.keys()].filter((s, i, all) => all.indexOf(s) === i);
    for (const shard of order) {
      const key = await this.shards[shard]!.apiKeyByHash(hash);
      if (key) return key;
    }
    return undefined;
  }
  listApiKeys(customerId: string): Promise<ApiKey[]> {
    return this.of(customerId).listApiKeys(customerId);
  }
  revokeApiKey(customerId: string, id: string, at: number): Promise<ApiKey | undefined> {
    return this.of(customerId).revokeApiKey(customerId, id, at);
  }
}

/** The retry schedules of every shard, for the API's manual retry and the dashboard's depth. */
export class ShardedSchedule implements RetrySchedule {
  constructor(
    private readonly shards: RetrySchedule[],
    private readonly locate: (deliveryId: string) => Promise<number | undefined>,
  ) {}

  private async grouped(items: ScheduledRetry[], run: (schedule: RetrySchedule, part: ScheduledRetry[]) => Promise<void>): Promise<void> {
    const located = await Promise.all(items.map(async (item) => ({ item, shard: await this.locate(item.deliveryId) })));
    const known = located.filter((l) => l.shard !== undefined);
    await byShard(
      known,
      (l) => l.shard!,
      async (shard, part) => {
        await run(
          this.shards[shard]!,
          part.map((l) => l.item),
        );
        return part.map(() => undefined);
      },
    );
  }

  async ping(): Promise<void> {
    await Promise.all(this.shards.map((s) => s.ping()));
  }
  schedule(items: ScheduledRetry[]): Promise<void> {
    return this.grouped(items, (s, part) => s.schedule(part));
  }
  ensureScheduled(items: ScheduledRetry[]): Promise<void> {
    return this.grouped(items, (s, part) => s.ensureScheduled(part));
  }
  async claim(now: number, limit: number, leaseMs: number): Promise<ScheduledRetry[]> {
    const claimed: ScheduledRetry[] = [];
    for (const s of this.shards) if (claimed.length < limit) claimed.push(...(await s.claim(now, limit - claimed.length, leaseMs)));
    return claimed;
  }
  async complete(deliveryIds: string[]): Promise<void> {
    await Promise.all(this.shards.map((s) => s.complete(deliveryIds)));
  }
  async scheduled(deliveryIds: string[]): Promise<Set<string>> {
    return new Set((await Promise.all(this.shards.map((s) => s.scheduled(deliveryIds)))).flatMap((found) => [...found]));
  }
  async depth(): Promise<number> {
    return sum(await Promise.all(this.shards.map((s) => s.depth())));
  }
  async nextDue(): Promise<number | null> {
    const due = (await Promise.all(this.shards.map((s) => s.nextDue()))).filter((d): d is number => d !== null);
    return due.length > 0 ? Math.min(...due) : null;
  }
}
