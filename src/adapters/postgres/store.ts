/** @module The Store port on PostgreSQL: configuration, deliveries and attempts for the scale-out deployment. */
import { refusedForItsContent } from "../../domain/errors.ts";
import { exactTypes } from "../../domain/match.ts";
import type { Attempt, Delivery, Event, OperationalEvent, Page, Pause, User, Webhook } from "../../domain/model.ts";
import type { AttemptRecord, DeliveryActivity, DeliveryCounts, DeliveryFilter, DeliveryWork, EventFilter, FanOut, FifoHead, ScheduledRetry, Store, WebhookHealth } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";
import { type OperationalEventRow, page, previousSecretColumns, toCounts, toOperationalEvent, webhookSettingsOf } from "../rows.ts";
import { SecretBox, secretOwner } from "../secret-box.ts";
import { guarded, pingPostgres, retryConflicts, type Sql, type Tx } from "./client.ts";
import { openDeliveries, pruneFinished, saveEventsAndFindDeliveries, writeAttempts } from "./deliveries.ts";
import { listDeliveries, listEvents } from "./event-lists.ts";
import { PostgresEventTypes } from "./event-types.ts";
import { findEvents, recentFailures, webhookHealth } from "./operator-reads.ts";
import { PostgresRecoveryJobs } from "./recovery-jobs.ts";
import { type AttemptRow, type DeliveryRow, type EventRow, eventFromRow, toAttempt, toDelivery, toUser, toWebhook, type UserRow, type WebhookRow } from "./rows.ts";
import { WebhookNotices } from "./webhook-notices.ts";

/**
 * Attempts finishing within this window share one statement instead of one round trip each. Not
 * 25 ms as on SQLite: with 25, the production no-loss property test saw more deliveries repeated
 * around a backend restart than its budget (1 run in 4; 5 of 5 passed at 5 ms).
 */
const ATTEMPT_FLUSH_MS = 5;
/** A flush never carries more than this many attempts (one statement of ~2 MB of small rows). */
const ATTEMPT_BATCH_MAX = 2000;

/** A typed value as postgres.js's `json()` takes it (its JSONValue type has no room for interfaces). */
const asJson = (value: object) => value as Parameters<Tx["json"]>[0];

export class PostgresStore implements Store {
  private readonly attemptWriter: Coalescer<AttemptRecord, void>;
  readonly eventTypes: PostgresEventTypes;
  readonly recoveryJobs: PostgresRecoveryJobs;
  private readonly notices: WebhookNotices;

  /** `sql` is the process's pool; the store never ends it (its owner does). */
  constructor(
    private readonly sql: Sql,
    private readonly secrets: SecretBox = new SecretBox([]),
  ) {
    this.notices = new WebhookNotices(sql);
    this.eventTypes = new PostgresEventTypes(sql);
    this.recoveryJobs = new PostgresRecoveryJobs(sql);
    this.attemptWriter = new Coalescer<AttemptRecord, void>(
      async (records) => {
        await guarded(retryConflicts(() => writeAttempts(this.sql, records)));
        return records.map(() => undefined);
      },
      // One attempt the database refuses must not hold back the outcomes written with it.
      { maxItems: ATTEMPT_BATCH_MAX, maxWaitMs: ATTEMPT_FLUSH_MS, serial: true, isolate: refusedForItsContent },
    );
  }

  ping(): Promise<void> {
    return pingPostgres(this.sql);
  }

  async ensureCustomer(id: string, name: string): Promise<void> {
    await guarded(this.sql`INSERT INTO customers (id, name, created_at) VALUES (${id}, ${name}, ${Date.now()}) ON CONFLICT (id) DO NOTHING`);
  }

  async getUser(username: string): Promise<User | undefined> {
    const [row] = await guarded(this.sql<UserRow[]>`SELECT * FROM users WHERE username = ${username}`);
    return row ? toUser(row) : undefined;
  }

  async putUser(user: User): Promise<void> {
    await guarded(this.sql`
      INSERT INTO users (username, customer_id, password_hash, scopes)
      VALUES (${user.username}, ${user.customerId}, ${user.passwordHash}, ${this.sql.json(user.scopes)})
      ON CONFLICT (username) DO UPDATE
        SET customer_id = excluded.customer_id, password_hash = excluded.password_hash, scopes = excluded.scopes`);
  }

  async settingOrInit(key: string, value: string): Promise<string> {
    // DO NOTHING waits for a concurrent insert of the same key to commit, so the SELECT after it sees the winner.
    await guarded(this.sql`INSERT INTO settings (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO NOTHING`);
    const [row] = await guarded(this.sql<{ value: string }[]>`SELECT value FROM settings WHERE key = ${key}`);
    return row!.value;
  }

  async webhooksVersion(): Promise<number> {
    const [row] = await guarded(this.sql<{ value: string }[]>`SELECT value FROM settings WHERE key = 'webhooks_version'`);
    return Number(row?.value ?? 0);
  }

  watchWebhooks(onChange: () => void): Promise<() => Promise<void>> {
    return this.notices.watch(onChange);
  }

  /**
   * Runs `change` and, when it reports a change, bumps webhooks_version and sends its notice in the
   * same transaction; answers once this process has heard the notice back (webhook-notices.ts).
   */
  private async changeWebhooks<T>(change: (tx: Tx) => Promise<{ changed: boolean; result: T }>): Promise<T> {
    let version = 0;
    const work = this.sql.begin(async (tx) => {
      const { changed, result } = await change(tx);
      if (changed) {
        const [row] = await tx<{ value: string }[]>`INSERT INTO settings (key, value) VALUES ('webhooks_version', '1')
                 ON CONFLICT (key) DO UPDATE SET value = (settings.value::bigint + 1)::text RETURNING value`;
        version = Number(row!.value);
        await this.notices.send(tx as unknown as Sql, version);
      }
      return result;
    }) as Promise<T>;
    const result = await guarded(work);
    if (version > 0) await this.notices.untilHeard(version);
    return result;
  }

  async createWebhook(w: Webhook): Promise<void> {
    const previous = previousSecretColumns(w, this.secrets);
    await this.changeWebhooks(async (tx) => {
      await tx`
        INSERT INTO webhooks (id, customer_id, url, event_types, headers, description, secret, previous_secret, previous_secret_expires_at, status, disabled_reason, pause, resumed_at, settings, created_at, updated_at)
        VALUES (${w.id}, ${w.customerId}, ${w.url}, ${tx.json(w.eventTypes)}, ${tx.json(w.headers)}, ${w.description},
                ${this.secrets.seal(w.secret, secretOwner(w.customerId, w.id))}, ${previous.previous_secret}, ${previous.previous_secret_expires_at}, ${w.status}, ${w.disabledReason},
                ${w.pause === null ? null : tx.json(asJson(w.pause))}, ${w.resumedAt}, ${tx.json(asJson(webhookSettingsOf(w)))},
                ${w.createdAt}, ${w.updatedAt})`;
      return { changed: true, result: undefined };
    });
  }

  async getWebhook(customerId: string, id: string): Promise<Webhook | undefined> {
    const [row] = await guarded(this.sql<WebhookRow[]>`SELECT * FROM webhooks WHERE customer_id = ${customerId} AND id = ${id}`);
    return row ? toWebhook(row, this.secrets) : undefined;
  }

  async listWebhooks(customerId: string, limit: number, cursor?: string): Promise<Page<Webhook>> {
    const rows = await guarded(this.sql<WebhookRow[]>`
      SELECT * FROM webhooks WHERE customer_id = ${customerId} AND id > ${cursor ?? ""} ORDER BY id LIMIT ${limit + 1}`);
    return page(
      rows.map((row) => toWebhook(row, this.secrets)),
      limit,
    );
  }

  async updateWebhook(w: Webhook): Promise<void> {
    const previous = previousSecretColumns(w, this.secrets);
    await this.changeWebhooks(async (tx) => {
      const result = await tx`
        UPDATE webhooks SET url = ${w.url}, event_types = ${tx.json(w.eventTypes)}, headers = ${tx.json(w.headers)},
          description = ${w.description}, secret = ${this.secrets.seal(w.secret, secretOwner(w.customerId, w.id))},
          previous_secret = ${previous.previous_secret}, previous_secret_expires_at = ${previous.previous_secret_expires_at}, status = ${w.status},
          disabled_reason = ${w.disabledReason}, settings = ${tx.json(asJson(webhookSettingsOf(w)))}, updated_at = ${w.updatedAt}
        WHERE customer_id = ${w.customerId} AND id = ${w.id}`;
      return { changed: result.count > 0, result: undefined };
    });
  }

  deleteWebhook(customerId: string, id: string): Promise<boolean> {
    return this.changeWebhooks(async (tx) => {
      const result = await tx`DELETE FROM webhooks WHERE customer_id = ${customerId} AND id = ${id}`;
      return { changed: result.count > 0, result: result.count > 0 };
    });
  }

  disableWebhook(e: OperationalEvent): Promise<Webhook | undefined> {
    return this.changeWebhooks(async (tx) => {
      const [row] = await tx<WebhookRow[]>`
        UPDATE webhooks SET status = 'disabled', disabled_reason = ${e.reason}, pause = NULL, updated_at = ${new Date(e.createdAt).toISOString()}
        WHERE customer_id = ${e.customerId} AND id = ${e.webhookId} AND status = 'active' RETURNING *`;
      if (!row) return { changed: false, result: undefined };
      await this.insertOperationalEvent(tx, e);
      return { changed: true, result: toWebhook(row, this.secrets) };
    });
  }

  pauseWebhook(e: OperationalEvent, pause: Pause): Promise<Webhook | undefined> {
    return this.changeHealth(
      e,
      (tx) => tx<WebhookRow[]>`
        UPDATE webhooks SET pause = ${tx.json(asJson(pause))}
        WHERE customer_id = ${e.customerId} AND id = ${e.webhookId} AND status = 'active' AND pause IS NULL RETURNING *`,
    );
  }

  resumeWebhook(e: OperationalEvent): Promise<Webhook | undefined> {
    return this.changeHealth(
      e,
      (tx) => tx<WebhookRow[]>`
        UPDATE webhooks SET pause = NULL, resumed_at = ${e.createdAt}
        WHERE customer_id = ${e.customerId} AND id = ${e.webhookId} AND pause IS NOT NULL RETURNING *`,
    );
  }

  /** A breaker's change with its operational event, in one transaction; undefined (nothing written) when `change` matched no row. */
  private changeHealth(e: OperationalEvent, change: (tx: Tx) => Promise<WebhookRow[]>): Promise<Webhook | undefined> {
    return this.changeWebhooks(async (tx) => {
      const [row] = await change(tx);
      if (!row) return { changed: false, result: undefined };
      await this.insertOperationalEvent(tx, e);
      return { changed: true, result: toWebhook(row, this.secrets) };
    });
  }

  private async insertOperationalEvent(tx: Tx, e: OperationalEvent): Promise<void> {
    await tx`INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at)
             VALUES (${e.id}, ${e.customerId}, ${e.webhookId}, ${e.type}, ${e.reason}, ${e.createdAt})`;
  }

  async claimProbes(now: number, leaseMs: number, limit: number): Promise<Webhook[]> {
    const rows = await guarded(this.sql<WebhookRow[]>`
      UPDATE webhooks SET pause = jsonb_set(pause, '{probeAt}', to_jsonb(${now + leaseMs}::bigint))
      WHERE id IN (
        SELECT id FROM webhooks WHERE status = 'active' AND pause IS NOT NULL AND (pause->>'probeAt')::bigint <= ${now}::bigint
        LIMIT ${limit} FOR UPDATE SKIP LOCKED)
      RETURNING *`);
    return rows.map((row) => toWebhook(row, this.secrets));
  }

  async reprobe(customerId: string, webhookId: string, pause: Pause): Promise<boolean> {
    const result = await guarded(this.sql`
      UPDATE webhooks SET pause = ${this.sql.json(asJson(pause))}
      WHERE customer_id = ${customerId} AND id = ${webhookId} AND status = 'active' AND pause IS NOT NULL`);
    return result.count > 0;
  }

  async latestEventSeq(_customerId: string): Promise<number> {
    // The sequence's last value: every event stored so far has one at most as great (one still being stored may too).
    const [row] = await guarded(this.sql<{ seq: string | number }[]>`SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS seq FROM events_seq`);
    return Number(row?.seq ?? 0);
  }

  async orderedEventsAfter(webhook: Webhook, afterSeq: number, limit: number): Promise<{ seq: number; event: Event }[]> {
    const types = exactTypes(webhook);
    const rows = await guarded(this.sql<(EventRow & { seq: string | number })[]>`
      SELECT * FROM events WHERE seq > ${afterSeq}::bigint AND customer_id = ${webhook.customerId}
      ${types ? this.sql`AND type = ANY(${types}::text[])` : this.sql``}
      ORDER BY seq LIMIT ${limit}`);
    return rows.map((row) => ({ seq: Number(row.seq), event: eventFromRow(row) }));
  }

  async fifoHeads(customerId: string, webhookId: string): Promise<FifoHead[]> {
    const rows = await guarded(this.sql<(DeliveryRow & { fifo_seq: string | number | null })[]>`
      SELECT DISTINCT ON (fifo_key) * FROM deliveries
      WHERE webhook_id = ${webhookId} AND fifo_key IS NOT NULL AND status IN ('pending', 'failed') AND customer_id = ${customerId}
      ORDER BY fifo_key, fifo_seq NULLS FIRST, id`);
    return rows.map((row) => ({ delivery: toDelivery(row), seq: row.fifo_seq === null ? null : Number(row.fifo_seq) }));
  }

  async finishedFifoSeq(customerId: string, webhookId: string): Promise<number> {
    const [row] = await guarded(this.sql<{ seq: string | number | null }[]>`
      SELECT max(fifo_seq) AS seq FROM deliveries
      WHERE webhook_id = ${webhookId} AND fifo_key IS NOT NULL AND status IN ('succeeded', 'dead') AND customer_id = ${customerId}`);
    return Number(row?.seq ?? 0);
  }

  async unfinishedDeliveries(customerId: string, webhookId: string, limit: number, after = ""): Promise<Delivery[]> {
    const rows = await guarded(this.sql<DeliveryRow[]>`
      SELECT * FROM deliveries WHERE webhook_id = ${webhookId} AND status IN ('pending', 'failed') AND id > ${after} AND customer_id = ${customerId}
      ORDER BY id LIMIT ${limit}`);
    return rows.map(toDelivery);
  }

  async deliveryActivity(customerId: string, webhookId: string): Promise<DeliveryActivity> {
    const [row] = await guarded(this.sql<{ success: string | null; failed: string | null; dead: string | null; unfinished: number }[]>`
      SELECT
        (SELECT updated_at FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'succeeded' AND customer_id = ${customerId} ORDER BY id DESC LIMIT 1) AS success,
        (SELECT updated_at FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'failed' AND customer_id = ${customerId} ORDER BY id DESC LIMIT 1) AS failed,
        (SELECT updated_at FROM deliveries WHERE webhook_id = ${webhookId} AND status = 'dead' AND customer_id = ${customerId} ORDER BY id DESC LIMIT 1) AS dead,
        (SELECT count(*)::int FROM deliveries WHERE webhook_id = ${webhookId} AND status IN ('pending', 'failed') AND customer_id = ${customerId}) AS unfinished`);
    const failures = [row!.failed, row!.dead].filter((t) => t !== null).map(Number);
    return { lastSuccessAt: row!.success === null ? null : Number(row!.success), lastFailureAt: failures.length > 0 ? Math.max(...failures) : null, unfinished: row!.unfinished };
  }

  async listOperationalEvents(customerId: string, filter: { webhookId?: string; limit: number; cursor?: string }): Promise<Page<OperationalEvent>> {
    const rows = await guarded(this.sql<OperationalEventRow[]>`
      SELECT * FROM operational_events WHERE customer_id = ${customerId}
        ${filter.webhookId !== undefined ? this.sql`AND webhook_id = ${filter.webhookId}` : this.sql``}
        ${filter.cursor !== undefined ? this.sql`AND id < ${filter.cursor}` : this.sql``}
      ORDER BY id DESC LIMIT ${filter.limit + 1}`);
    return page(rows.map(toOperationalEvent), filter.limit);
  }

  async resealSecrets(): Promise<number> {
    const rows = await guarded(this.sql<{ id: string; customer_id: string; secret: string; previous_secret: string | null }[]>`SELECT id, customer_id, secret, previous_secret FROM webhooks`);
    const stale = rows.filter((row) => !this.secrets.isCurrent(row.secret) || (row.previous_secret !== null && !this.secrets.isCurrent(row.previous_secret)));
    for (const row of stale) {
      const owner = secretOwner(row.customer_id, row.id);
      const reseal = (sealed: string) => this.secrets.seal(this.secrets.open(sealed, owner), owner);
      // Only if unchanged since read: a secret rotated meanwhile was written in the new form already.
      await guarded(this.sql`
        UPDATE webhooks SET secret = ${reseal(row.secret)}, previous_secret = ${row.previous_secret === null ? null : reseal(row.previous_secret)}
        WHERE customer_id = ${row.customer_id} AND id = ${row.id} AND secret = ${row.secret}`);
    }
    return stale.length;
  }

  async activeWebhooks(): Promise<Webhook[]> {
    return (await guarded(this.sql<WebhookRow[]>`SELECT * FROM webhooks WHERE status = 'active'`)).map((row) => toWebhook(row, this.secrets));
  }

  saveEventsAndFindDeliveries(items: FanOut[]): Promise<Delivery[][]> {
    return guarded(retryConflicts(() => saveEventsAndFindDeliveries(this.sql, items)));
  }

  openDeliveries(items: FanOut[], dueAt: number): Promise<Delivery[][]> {
    return guarded(retryConflicts(() => openDeliveries(this.sql, items, Date.now(), dueAt)));
  }

  async getDelivery(customerId: string, id: string): Promise<Delivery | undefined> {
    const [row] = await guarded(this.sql<DeliveryRow[]>`SELECT * FROM deliveries WHERE customer_id = ${customerId} AND id = ${id}`);
    return row ? toDelivery(row) : undefined;
  }

  async deliveryWork(deliveryIds: string[]): Promise<DeliveryWork[]> {
    if (deliveryIds.length === 0) return [];
    // One round trip for the batch: each delivery with its event and webhook side by side, as JSON rows.
    const rows = await guarded(this.sql<{ d: DeliveryRow; e: EventRow; w: WebhookRow }[]>`
      SELECT to_jsonb(d) AS d, to_jsonb(e) AS e, to_jsonb(w) AS w
      FROM deliveries d
      JOIN events e ON e.customer_id = d.customer_id AND e.id = d.event_id
      JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.id = ANY(${deliveryIds}::text[])`);
    return rows.map((row) => ({ delivery: toDelivery(row.d), event: eventFromRow(row.e), webhook: toWebhook(row.w, this.secrets) }));
  }

  async overdueDeliveries(before: number, limit: number): Promise<ScheduledRetry[]> {
    const rows = await guarded(this.sql<{ id: string; next_attempt_at: string | number }[]>`
      SELECT d.id, d.next_attempt_at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active' AND w.pause IS NULL
      WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at < ${before}::bigint AND (d.fifo_key IS NULL OR NOT (w.settings ? 'ordering'))
      ORDER BY d.next_attempt_at LIMIT ${limit}`);
    return rows.map((row) => ({ deliveryId: row.id, dueAt: Number(row.next_attempt_at) }));
  }

  listDeliveries(customerId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
    return listDeliveries(this.sql, customerId, filter);
  }

  listEvents(customerId: string, filter: EventFilter): Promise<Page<Event>> {
    return listEvents(this.sql, customerId, filter);
  }

  async countDeliveries(): Promise<DeliveryCounts> {
    return toCounts(await guarded(this.sql<{ status: string; n: number }[]>`SELECT status, count(*) AS n FROM deliveries GROUP BY status`));
  }

  recordAttempts(records: AttemptRecord[]): Promise<void> {
    return this.attemptWriter.submit(records).then(() => undefined);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    const rows = await guarded(this.sql<AttemptRow[]>`SELECT * FROM attempts WHERE delivery_id = ${deliveryId} ORDER BY attempt_number`);
    return rows.map(toAttempt);
  }

  async requeueDelivery(delivery: Delivery, at: number): Promise<Delivery> {
    // One statement, so the replay is kept exactly when the update happens (none for a delivery not there).
    const [row] = await guarded(this.sql<DeliveryRow[]>`
      WITH requeued AS (
        UPDATE deliveries SET status = 'pending', round_start = attempt_count, next_attempt_at = ${at}::bigint, updated_at = ${at}::bigint
        WHERE id = ${delivery.id}
        RETURNING *
      ), replay AS (
        INSERT INTO replays (delivery_id, customer_id, at) SELECT id, customer_id, ${at}::bigint FROM requeued
      )
      SELECT * FROM requeued`);
    return toDelivery(row!);
  }

  async listReplays(deliveryId: string): Promise<number[]> {
    const rows = await guarded(this.sql<{ at: number }[]>`SELECT at FROM replays WHERE delivery_id = ${deliveryId} ORDER BY at`);
    return rows.map((row) => row.at);
  }

  webhookHealth(limit: number): Promise<WebhookHealth[]> {
    return guarded(webhookHealth(this.sql, this.secrets, limit));
  }

  recentFailures(limit: number): Promise<Delivery[]> {
    return guarded(recentFailures(this.sql, limit));
  }

  async operationalEventsAfter(afterId: string, limit: number): Promise<OperationalEvent[]> {
    const rows = await guarded(this.sql<OperationalEventRow[]>`SELECT * FROM operational_events WHERE id > ${afterId} ORDER BY id LIMIT ${limit}`);
    return rows.map(toOperationalEvent);
  }

  async deadDeliveriesAfter(after: { updatedAt: number; id: string }, limit: number): Promise<Delivery[]> {
    const rows = await guarded(this.sql<DeliveryRow[]>`
      SELECT * FROM deliveries WHERE status IN ('failed', 'dead') AND status = 'dead' AND (updated_at, id) > (${after.updatedAt}::bigint, ${after.id}::text)
      ORDER BY updated_at, id LIMIT ${limit}`);
    return rows.map(toDelivery);
  }

  findEvents(id: string): Promise<Event[]> {
    return guarded(findEvents(this.sql, id));
  }

  async getEvent(customerId: string, id: string): Promise<Event | undefined> {
    const [row] = await guarded(this.sql<EventRow[]>`SELECT * FROM events WHERE customer_id = ${customerId} AND id = ${id}`);
    return row ? eventFromRow(row) : undefined;
  }

  pruneFinished(before: number, limit: number): Promise<number> {
    return guarded(retryConflicts(() => pruneFinished(this.sql, before, limit)));
  }
}
