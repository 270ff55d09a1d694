/** @module The Store port on embedded SQLite: configuration, deliveries and attempts. */
import type { Database } from "bun:sqlite";
import { deliveryIdFor } from "../../domain/ids.ts";
import { exactTypes } from "../../domain/match.ts";
import type { Attempt, Delivery, Event, OperationalEvent, Page, Pause, User, Webhook } from "../../domain/model.ts";
import { orderKeyOf } from "../../domain/ordering.ts";
import type { AttemptRecord, DeliveryActivity, DeliveryCounts, DeliveryFilter, DeliveryWork, EventFilter, FanOut, FifoHead, ScheduledRetry, Store, WebhookHealth } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";
import { type OperationalEventRow, page, toCounts, toOperationalEvent } from "../rows.ts";
import { SecretBox, secretOwner } from "../secret-box.ts";
import { pingDatabase } from "./database.ts";
import { listDeliveries, listEvents } from "./event-lists.ts";
import { SqliteEventTypes } from "./event-types.ts";
import { findEvents, recentFailures, webhookHealth } from "./operator-reads.ts";
import { SqliteRecoveryJobs } from "./recovery-jobs.ts";
import { type AttemptRow, type DeliveryRow, type EventRow, eventFromRow, toAttempt, toDelivery, toWebhook, type WebhookRow, webhookParams } from "./rows.ts";

/**
 * Attempts finishing within this window share one transaction (one fsync) instead of one each.
 * Nobody waits on it but the event's acknowledgement; 25 ms instead of 5 took 3% off the CPU per
 * delivery at 2,500 and 5,000/s (bench A/B, bench/README.md).
 */
const ATTEMPT_FLUSH_MS = 25;
/** Rows written per synchronous transaction on the hot paths (a few ms of the event loop at most). */
const SLICE_ROWS = 250;

export class SqliteStore implements Store {
  private readonly attemptWriter: Coalescer<AttemptRecord, void>;
  readonly eventTypes: SqliteEventTypes;
  readonly recoveryJobs: SqliteRecoveryJobs;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox = new SecretBox([]),
  ) {
    this.eventTypes = new SqliteEventTypes(db);
    this.recoveryJobs = new SqliteRecoveryJobs(db);
    this.attemptWriter = new Coalescer((records) => this.writeAttempts(records), { maxItems: SLICE_ROWS, maxWaitMs: ATTEMPT_FLUSH_MS, minIntervalMs: ATTEMPT_FLUSH_MS, serial: true });
  }

  ping(): Promise<void> {
    return pingDatabase(this.db);
  }

  async ensureCustomer(id: string, name: string): Promise<void> {
    this.db.run("INSERT INTO customers (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (id) DO NOTHING", [id, name, Date.now()]);
  }

  async getUser(username: string): Promise<User | undefined> {
    const row = this.db.query<{ username: string; customer_id: string; password_hash: string; scopes: string }, [string]>("SELECT * FROM users WHERE username = ?").get(username);
    return row ? { username: row.username, customerId: row.customer_id, passwordHash: row.password_hash, scopes: JSON.parse(row.scopes) } : undefined;
  }

  async putUser(user: User): Promise<void> {
    this.db.run(
      `INSERT INTO users (username, customer_id, password_hash, scopes) VALUES (?, ?, ?, ?)
       ON CONFLICT (username) DO UPDATE SET customer_id = excluded.customer_id, password_hash = excluded.password_hash, scopes = excluded.scopes`,
      [user.username, user.customerId, user.passwordHash, JSON.stringify(user.scopes)],
    );
  }

  async settingOrInit(key: string, value: string): Promise<string> {
    this.db.run("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", [key, value]);
    return this.db.query<{ value: string }, [string]>("SELECT value FROM settings WHERE key = ?").get(key)!.value;
  }

  private bumpWebhooksVersion(): void {
    this.db.run("INSERT INTO settings (key, value) VALUES ('webhooks_version', '1') ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1");
    // After the (synchronous) transaction this runs in has committed.
    if (this.webhookWatchers.size > 0) queueMicrotask(() => this.noticeWebhookChange());
  }

  private readonly webhookWatchers = new Set<() => void>();

  /**
   * Notices of this process's webhook changes. Embedded, this process is the file's only writer
   * (it holds the file's lock), so they are every change, each sent as it commits: ingest counts
   * `matched_webhooks` without reading the version per event.
   */
  async watchWebhooks(onChange: () => void): Promise<() => Promise<void>> {
    this.webhookWatchers.add(onChange);
    onChange();
    return async () => {
      this.webhookWatchers.delete(onChange);
    };
  }

  private noticeWebhookChange(): void {
    for (const watcher of this.webhookWatchers) watcher();
  }

  async webhooksVersion(): Promise<number> {
    const row = this.db.query<{ value: string }, []>("SELECT value FROM settings WHERE key = 'webhooks_version'").get();
    return Number(row?.value ?? 0);
  }

  async createWebhook(webhook: Webhook): Promise<void> {
    this.db.transaction(() => {
      this.insertWebhook(webhook);
      this.bumpWebhooksVersion();
    })();
  }

  private insertWebhook(webhook: Webhook): void {
    this.db
      .query(
        `INSERT INTO webhooks (id, customer_id, url, event_types, headers, description, secret, previous_secret, previous_secret_expires_at, status, disabled_reason, pause, resumed_at, settings, created_at, updated_at)
         VALUES ($id, $customer_id, $url, $event_types, $headers, $description, $secret, $previous_secret, $previous_secret_expires_at, $status, $disabled_reason, $pause, $resumed_at, $settings, $created_at, $updated_at)`,
      )
      .run(webhookParams(webhook, this.secrets));
  }

  async getWebhook(customerId: string, id: string): Promise<Webhook | undefined> {
    const row = this.db.query<WebhookRow, [string, string]>("SELECT * FROM webhooks WHERE customer_id = ? AND id = ?").get(customerId, id);
    return row ? toWebhook(row, this.secrets) : undefined;
  }

  async listWebhooks(customerId: string, limit: number, cursor?: string): Promise<Page<Webhook>> {
    const rows = this.db.query<WebhookRow, [string, string, number]>("SELECT * FROM webhooks WHERE customer_id = ? AND id > ? ORDER BY id LIMIT ?").all(customerId, cursor ?? "", limit + 1);
    return page(
      rows.map((row) => toWebhook(row, this.secrets)),
      limit,
    );
  }

  async updateWebhook(webhook: Webhook): Promise<void> {
    const update = this.db.query(
      `UPDATE webhooks SET url = $url, event_types = $event_types, headers = $headers, description = $description,
       secret = $secret, previous_secret = $previous_secret, previous_secret_expires_at = $previous_secret_expires_at, status = $status,
       disabled_reason = $disabled_reason, settings = $settings, updated_at = $updated_at
       WHERE customer_id = $customer_id AND id = $id`,
    );
    this.db.transaction(() => {
      update.run(webhookParams(webhook, this.secrets)); // not pause or resumed_at: those are the breaker's
      this.bumpWebhooksVersion();
    })();
  }

  async deleteWebhook(customerId: string, id: string): Promise<boolean> {
    return this.db.transaction(() => {
      const deleted = this.db.run("DELETE FROM webhooks WHERE customer_id = ? AND id = ?", [customerId, id]).changes > 0;
      if (deleted) this.bumpWebhooksVersion();
      return deleted;
    })();
  }

  async disableWebhook(event: OperationalEvent): Promise<Webhook | undefined> {
    return this.db.transaction(() => {
      const row = this.db
        .query<WebhookRow, [string, string, string, string]>(
          "UPDATE webhooks SET status = 'disabled', disabled_reason = ?, pause = NULL, updated_at = ? WHERE customer_id = ? AND id = ? AND status = 'active' RETURNING *",
        )
        .get(event.reason, new Date(event.createdAt).toISOString(), event.customerId, event.webhookId);
      if (!row) return undefined;
      this.insertOperationalEvent(event);
      this.bumpWebhooksVersion();
      return toWebhook(row, this.secrets);
    })();
  }

  async pauseWebhook(event: OperationalEvent, pause: Pause): Promise<Webhook | undefined> {
    return this.changeHealth(event, "UPDATE webhooks SET pause = ? WHERE customer_id = ? AND id = ? AND status = 'active' AND pause IS NULL RETURNING *", [
      JSON.stringify(pause),
      event.customerId,
      event.webhookId,
    ]);
  }

  async resumeWebhook(event: OperationalEvent): Promise<Webhook | undefined> {
    return this.changeHealth(event, "UPDATE webhooks SET pause = NULL, resumed_at = ? WHERE customer_id = ? AND id = ? AND pause IS NOT NULL RETURNING *", [
      event.createdAt,
      event.customerId,
      event.webhookId,
    ]);
  }

  /** A breaker's change with its operational event, in one transaction; undefined (nothing written) when `change` matched no row. */
  private changeHealth(event: OperationalEvent, change: string, params: (string | number)[]): Promise<Webhook | undefined> {
    return Promise.resolve(
      this.db.transaction(() => {
        const row = this.db.query<WebhookRow, (string | number)[]>(change).get(...params);
        if (!row) return undefined;
        this.insertOperationalEvent(event);
        this.bumpWebhooksVersion();
        return toWebhook(row, this.secrets);
      })(),
    );
  }

  async claimProbes(now: number, leaseMs: number, limit: number): Promise<Webhook[]> {
    return this.db
      .query<WebhookRow, [number, number, number]>(
        `UPDATE webhooks SET pause = json_set(pause, '$.probeAt', ?1 + ?2)
         WHERE rowid IN (SELECT rowid FROM webhooks WHERE status = 'active' AND pause IS NOT NULL AND json_extract(pause, '$.probeAt') <= ?1 LIMIT ?3)
         RETURNING *`,
      )
      .all(now, leaseMs, limit)
      .map((row) => toWebhook(row, this.secrets));
  }

  async reprobe(customerId: string, webhookId: string, pause: Pause): Promise<boolean> {
    return this.db.run("UPDATE webhooks SET pause = ? WHERE customer_id = ? AND id = ? AND status = 'active' AND pause IS NOT NULL", [JSON.stringify(pause), customerId, webhookId]).changes > 0;
  }

  async unfinishedDeliveries(customerId: string, webhookId: string, limit: number, after = ""): Promise<Delivery[]> {
    return this.db
      .query<DeliveryRow, [string, string, string, number]>("SELECT * FROM deliveries WHERE webhook_id = ?2 AND status IN ('pending', 'failed') AND id > ?3 AND customer_id = ?1 ORDER BY id LIMIT ?4")
      .all(customerId, webhookId, after, limit)
      .map(toDelivery);
  }

  async latestEventSeq(_customerId: string): Promise<number> {
    return this.db.query<{ seq: number | null }, []>("SELECT max(seq) AS seq FROM events").get()?.seq ?? 0;
  }

  async orderedEventsAfter(webhook: Webhook, afterSeq: number, limit: number): Promise<{ seq: number; event: Event }[]> {
    const types = exactTypes(webhook);
    const typeFilter = types ? `AND type IN (${types.map(() => "?").join(", ")})` : "";
    return this.db
      .query<EventRow & { seq: number }, (string | number)[]>(`SELECT * FROM events WHERE seq > ? AND customer_id = ? ${typeFilter} ORDER BY seq LIMIT ?`)
      .all(afterSeq, webhook.customerId, ...(types ?? []), limit)
      .map((row) => ({ seq: row.seq, event: eventFromRow(row) }));
  }

  async fifoHeads(customerId: string, webhookId: string): Promise<FifoHead[]> {
    // SQLite's bare columns with MIN(): each key's row is the one holding the least seq.
    return this.db
      .query<DeliveryRow & { head_seq: number | null }, [string, string]>(
        `SELECT *, MIN(fifo_seq) AS head_seq FROM deliveries
         WHERE webhook_id = ?2 AND fifo_key IS NOT NULL AND status IN ('pending', 'failed') AND customer_id = ?1 GROUP BY fifo_key`,
      )
      .all(customerId, webhookId)
      .map((row) => ({ delivery: toDelivery(row), seq: row.head_seq }));
  }

  async finishedFifoSeq(customerId: string, webhookId: string): Promise<number> {
    return (
      this.db
        .query<{ seq: number | null }, [string, string]>(
          "SELECT max(fifo_seq) AS seq FROM deliveries WHERE webhook_id = ?2 AND fifo_key IS NOT NULL AND status IN ('succeeded', 'dead') AND customer_id = ?1",
        )
        .get(customerId, webhookId)?.seq ?? 0
    );
  }

  async deliveryActivity(customerId: string, webhookId: string): Promise<DeliveryActivity> {
    const newest = this.db.query<{ updated_at: number }, [string, string, string]>(
      "SELECT updated_at FROM deliveries WHERE webhook_id = ?2 AND status = ?3 AND customer_id = ?1 ORDER BY id DESC LIMIT 1",
    );
    const at = (status: string) => newest.get(customerId, webhookId, status)?.updated_at ?? null;
    const failures = [at("failed"), at("dead")].filter((t): t is number => t !== null);
    const unfinished = this.db
      .query<{ n: number }, [string, string]>("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ?2 AND status IN ('pending', 'failed') AND customer_id = ?1")
      .get(customerId, webhookId)!.n;
    return { lastSuccessAt: at("succeeded"), lastFailureAt: failures.length > 0 ? Math.max(...failures) : null, unfinished };
  }

  private insertOperationalEvent(e: OperationalEvent): void {
    this.db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, ?, ?, ?, ?, ?)", [e.id, e.customerId, e.webhookId, e.type, e.reason, e.createdAt]);
  }

  async listOperationalEvents(customerId: string, filter: { webhookId?: string; limit: number; cursor?: string }): Promise<Page<OperationalEvent>> {
    const rows = this.db
      .query<OperationalEventRow, [string, string | null, string | null, number]>(
        `SELECT * FROM operational_events WHERE customer_id = ?1 AND (?2 IS NULL OR webhook_id = ?2) AND (?3 IS NULL OR id < ?3) ORDER BY id DESC LIMIT ?4`,
      )
      .all(customerId, filter.webhookId ?? null, filter.cursor ?? null, filter.limit + 1);
    return page(rows.map(toOperationalEvent), filter.limit);
  }

  async resealSecrets(): Promise<number> {
    const rows = this.db.query<{ id: string; customer_id: string; secret: string; previous_secret: string | null }, []>("SELECT id, customer_id, secret, previous_secret FROM webhooks").all();
    const stale = rows.filter((row) => !this.secrets.isCurrent(row.secret) || (row.previous_secret !== null && !this.secrets.isCurrent(row.previous_secret)));
    const update = this.db.query("UPDATE webhooks SET secret = ?, previous_secret = ? WHERE customer_id = ? AND id = ? AND secret = ?");
    this.db.transaction(() => {
      for (const row of stale) {
        const owner = secretOwner(row.customer_id, row.id);
        const reseal = (sealed: string) => this.secrets.seal(this.secrets.open(sealed, owner), owner);
        update.run(reseal(row.secret), row.previous_secret === null ? null : reseal(row.previous_secret), row.customer_id, row.id, row.secret);
      }
    })();
    return stale.length;
  }

  async activeWebhooks(): Promise<Webhook[]> {
    return this.db
      .query<WebhookRow, []>("SELECT * FROM webhooks WHERE status = 'active'")
      .all()
      .map((row) => toWebhook(row, this.secrets));
  }

  /** The events are in this database already (the embedded log is its `events` table): nothing to save. */
  async saveEventsAndFindDeliveries(items: FanOut[]): Promise<Delivery[][]> {
    const select = this.db.query<DeliveryRow, [string, string]>("SELECT * FROM deliveries WHERE customer_id = ? AND event_id = ?");
    return items.map(({ event, webhooks }) => (webhooks.length === 0 ? [] : select.all(event.customerId, event.id).map(toDelivery)));
  }

  async openDeliveries(items: FanOut[], dueAt: number): Promise<Delivery[][]> {
    // RETURNING answers a new row in one statement; only a delivery opened before (an event
    // read again after a restart) needs the second look-up.
    const insert = this.db.query<DeliveryRow, [string, string, string, string, number, number, number]>(
      `INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, next_attempt_at, created_at, updated_at)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT (customer_id, event_id, webhook_id) DO NOTHING RETURNING *`,
    );
    // A webhook that delivers in order: the delivery keeps its queue and its event's place in the log.
    const insertOrdered = this.db.query<DeliveryRow, [string, string, string, string, number, number, number, string, string, string]>(
      `INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, next_attempt_at, created_at, updated_at, fifo_key, fifo_seq)
       VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, (SELECT seq FROM events WHERE customer_id = ? AND id = ?))
       ON CONFLICT (customer_id, event_id, webhook_id) DO NOTHING RETURNING *`,
    );
    const select = this.db.query<DeliveryRow, [string, string, string]>("SELECT * FROM deliveries WHERE customer_id = ? AND event_id = ? AND webhook_id = ?");
    const open = this.db.transaction((chunk: FanOut[]) => {
      const now = Date.now();
      return chunk.map(({ event, webhooks }) =>
        webhooks.map((webhook) => {
          const id = deliveryIdFor(event.customerId, event.id, webhook.id, event.acceptedAt);
          const inserted = webhook.ordering
            ? insertOrdered.get(id, event.customerId, event.id, webhook.id, dueAt, now, now, orderKeyOf(webhook, event), event.customerId, event.id)
            : insert.get(id, event.customerId, event.id, webhook.id, dueAt, now, now);
          return toDelivery(inserted ?? select.get(event.customerId, event.id, webhook.id)!);
        }),
      );
    });
    // In slices of about SLICE_ROWS rows, each its own transaction, with a turn of the event loop
    // between them: a batch of 500 events × 10 webhooks in one go would hold the loop for tens of ms.
    const opened: Delivery[][] = [];
    for (let from = 0; from < items.length; ) {
      let rows = 0;
      let to = from;
      while (to < items.length && (to === from || rows + items[to]!.webhooks.length <= SLICE_ROWS)) rows += items[to++]!.webhooks.length;
      if (from > 0) await new Promise((resolve) => setImmediate(resolve));
      opened.push(...open(items.slice(from, to)));
      from = to;
    }
    return opened;
  }

  async getDelivery(customerId: string, id: string): Promise<Delivery | undefined> {
    const row = this.db.query<DeliveryRow, [string, string]>("SELECT * FROM deliveries WHERE customer_id = ? AND id = ?").get(customerId, id);
    return row ? toDelivery(row) : undefined;
  }

  async deliveryWork(deliveryIds: string[]): Promise<DeliveryWork[]> {
    // Three prepared look-ups per id inside one read transaction: in-process SQLite has no round
    // trip to save, and a keyed look-up is cheaper than building an IN list per batch size.
    const delivery = this.db.query<DeliveryRow, [string]>("SELECT * FROM deliveries WHERE id = ?");
    const event = this.db.query<EventRow, [string, string]>("SELECT * FROM events WHERE customer_id = ? AND id = ?");
    const webhook = this.db.query<WebhookRow, [string]>("SELECT * FROM webhooks WHERE id = ?");
    return this.db.transaction(() => {
      const found: DeliveryWork[] = [];
      for (const id of deliveryIds) {
        const d = delivery.get(id);
        const e = d && event.get(d.customer_id, d.event_id);
        const w = d && webhook.get(d.webhook_id);
        if (d && e && w) found.push({ delivery: toDelivery(d), event: eventFromRow(e), webhook: toWebhook(w, this.secrets) });
      }
      return found;
    })();
  }

  async overdueDeliveries(before: number, limit: number): Promise<ScheduledRetry[]> {
    return this.db
      .query<{ id: string; next_attempt_at: number }, [number, number]>(
        `SELECT d.id, d.next_attempt_at FROM deliveries d JOIN webhooks w ON w.id = d.webhook_id AND w.status = 'active' AND w.pause IS NULL
         WHERE d.status IN ('pending', 'failed') AND d.next_attempt_at < ? AND (d.fifo_key IS NULL OR json_extract(w.settings, '$.ordering') IS NULL)
         ORDER BY d.next_attempt_at LIMIT ?`,
      )
      .all(before, limit)
      .map((row) => ({ deliveryId: row.id, dueAt: row.next_attempt_at }));
  }

  async listDeliveries(customerId: string, filter: DeliveryFilter): Promise<Page<Delivery>> {
    return listDeliveries(this.db, customerId, filter);
  }

  listEvents(customerId: string, filter: EventFilter): Promise<Page<Event>> {
    return listEvents(this.db, customerId, filter);
  }

  async countDeliveries(): Promise<DeliveryCounts> {
    return toCounts(this.db.query<{ status: string; n: number }, []>("SELECT status, count(*) AS n FROM deliveries GROUP BY status").all());
  }

  recordAttempts(records: AttemptRecord[]): Promise<void> {
    return this.attemptWriter.submit(records).then(() => undefined);
  }

  private writeAttempts(records: AttemptRecord[]): void[] {
    // Any conflict does nothing: the same attempt again (its id), or another attempt with its number.
    const insert = this.db.query(
      `INSERT INTO attempts (id, delivery_id, customer_id, attempt_number, status_code, duration_ms, error, response_body, created_at, next_attempt_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    );
    const known = this.db.query<{ n: number }, [string]>("SELECT 1 AS n FROM attempts WHERE id = ?");
    const nextNumber = this.db.query<{ n: number }, [string]>("SELECT coalesce(max(attempt_number), 0) + 1 AS n FROM attempts WHERE delivery_id = ?");
    const countUp = this.db.query("UPDATE deliveries SET attempt_count = max(attempt_count, ?) WHERE id = ?");
    // A delivery sent straight from the log has no row yet: its first outcome creates it, in its
    // final state (one write instead of a pending row and an update of it).
    const upsert = this.db.query(
      `INSERT INTO deliveries (id, customer_id, event_id, webhook_id, status, attempt_count, round_start, last_status_code,
         last_error, next_attempt_at, created_at, updated_at)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, attempt_count = excluded.attempt_count,
         last_status_code = excluded.last_status_code, last_error = excluded.last_error,
         next_attempt_at = excluded.next_attempt_at, updated_at = excluded.updated_at
       -- An attempt older than the one already recorded (a late write) must not undo its outcome;
       -- two attempts with one number (the first's record was late when the retry read the count): the later one wins.
       WHERE deliveries.attempt_count < excluded.attempt_count
          OR (deliveries.attempt_count = excluded.attempt_count AND deliveries.updated_at <= excluded.updated_at)
       ON CONFLICT DO NOTHING`,
    );
    this.db.transaction(() => {
      for (const { delivery: d, attempt: a, status, nextAttemptAt } of records) {
        const write = (number: number) =>
          insert.run(a.id, a.deliveryId, a.customerId, number, a.statusCode, Math.round(a.durationMs * 1000) / 1000, a.error, a.responseBody, a.createdAt, nextAttemptAt).changes > 0;
        // Two sends of one delivery raced (a lease ran out, a manual retry during a retry): both
        // happened, so both are kept, this one under the next free number. Which of the two decides
        // the state is still the upsert's rule (the later one); the count covers both.
        const renumbered = !write(a.attemptNumber) && !known.get(a.id) ? nextNumber.get(a.deliveryId)!.n : null;
        if (renumbered !== null) write(renumbered);
        upsert.run(d.id, d.customerId, d.eventId, d.webhookId, status, a.attemptNumber, d.roundStart, a.statusCode, a.error, nextAttemptAt, d.createdAt, a.createdAt);
        if (renumbered !== null) countUp.run(renumbered, d.id);
      }
    })();
    return records.map(() => undefined);
  }

  async listAttempts(deliveryId: string): Promise<Attempt[]> {
    return this.db.query<AttemptRow, [string]>("SELECT * FROM attempts WHERE delivery_id = ? ORDER BY attempt_number").all(deliveryId).map(toAttempt);
  }

  async requeueDelivery(delivery: Delivery, at: number): Promise<Delivery> {
    const update = this.db.query("UPDATE deliveries SET status = 'pending', round_start = attempt_count, next_attempt_at = ?, updated_at = ? WHERE id = ?");
    // From the stored row, so a delivery that is not there records no replay.
    const replay = this.db.query("INSERT INTO replays (delivery_id, customer_id, at) SELECT id, customer_id, ? FROM deliveries WHERE id = ?");
    const select = this.db.query<DeliveryRow, [string]>("SELECT * FROM deliveries WHERE id = ?");
    return this.db.transaction(() => {
      update.run(at, at, delivery.id);
      replay.run(at, delivery.id);
      return toDelivery(select.get(delivery.id)!);
    })();
  }

  async listReplays(deliveryId: string): Promise<number[]> {
    return this.db
      .query<{ at: number }, [string]>("SELECT at FROM replays WHERE delivery_id = ? ORDER BY at, rowid")
      .all(deliveryId)
      .map((row) => row.at);
  }

  async webhookHealth(limit: number): Promise<WebhookHealth[]> {
    return webhookHealth(this.db, this.secrets, limit);
  }

  async recentFailures(limit: number): Promise<Delivery[]> {
    return recentFailures(this.db, limit);
  }

  async operationalEventsAfter(afterId: string, limit: number): Promise<OperationalEvent[]> {
    return this.db.query<OperationalEventRow, [string, number]>("SELECT * FROM operational_events WHERE id > ? ORDER BY id LIMIT ?").all(afterId, limit).map(toOperationalEvent);
  }

  async deadDeliveriesAfter(after: { updatedAt: number; id: string }, limit: number): Promise<Delivery[]> {
    // The failing rows' partial index (migration 4), read from `after` on: never every delivery.
    return this.db
      .query<DeliveryRow, [number, string, number]>(
        "SELECT * FROM deliveries INDEXED BY deliveries_failing_by_updated WHERE status IN ('failed', 'dead') AND status = 'dead' AND (updated_at, id) > (?, ?) ORDER BY updated_at, id LIMIT ?",
      )
      .all(after.updatedAt, after.id, limit)
      .map(toDelivery);
  }

  async findEvents(id: string): Promise<Event[]> {
    return findEvents(this.db, id);
  }

  async getEvent(customerId: string, id: string): Promise<Event | undefined> {
    const row = this.db.query<EventRow, [string, string]>("SELECT * FROM events WHERE customer_id = ? AND id = ?").get(customerId, id);
    return row ? eventFromRow(row) : undefined;
  }

  async pruneFinished(before: number, limit: number): Promise<number> {
    // Both scans use an index of migration 0002: they read the old rows only, however big the tables;
    // attempts and replays go by their delivery_id indexes.
    const selectVictims = this.db.query<{ id: string; customer_id: string; event_id: string }, [number, number]>(
      "SELECT id, customer_id, event_id FROM deliveries WHERE status IN ('succeeded', 'dead') AND updated_at < ? ORDER BY updated_at LIMIT ?",
    );
    const deleteAttempts = this.db.query("DELETE FROM attempts WHERE delivery_id = ?");
    const deleteReplays = this.db.query("DELETE FROM replays WHERE delivery_id = ?");
    const deleteDelivery = this.db.query("DELETE FROM deliveries WHERE id = ?");
    const deleteEmptied = this.db.query(
      `DELETE FROM events WHERE customer_id = ?1 AND id = ?2 AND accepted_at < ?3
       AND NOT EXISTS (SELECT 1 FROM deliveries WHERE customer_id = ?1 AND event_id = ?2)`,
    );
    // Events that never had a delivery go only once every consumer group has read past them.
    const deleteOrphans = this.db.query(
      `DELETE FROM events WHERE seq IN (
         SELECT seq FROM events e
         WHERE accepted_at < ?1 AND seq <= (SELECT min(position) FROM consumer_offsets)
           AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.customer_id = e.customer_id AND d.event_id = e.id)
         ORDER BY accepted_at LIMIT ?2)`,
    );
    // Immediate: the write lock is taken before the read, so no other process changes a victim in between.
    return this.db
      .transaction(() => {
        const victims = selectVictims.all(before, limit);
        for (const victim of victims) {
          deleteAttempts.run(victim.id);
          deleteReplays.run(victim.id);
          deleteDelivery.run(victim.id);
        }
        for (const victim of victims) deleteEmptied.run(victim.customer_id, victim.event_id, before);
        deleteOrphans.run(before, limit);
        return victims.length;
      })
      .immediate();
  }
}
