/** @module The RetrySchedule port on embedded SQLite: one row per delivery, indexed by due time. */
import type { Database } from "bun:sqlite";
import type { RetrySchedule, ScheduledRetry } from "../../domain/ports.ts";
import { Coalescer } from "../../platform/coalesce.ts";
import { pingDatabase } from "./database.ts";

/** A write to the schedule; applied in the order submitted, many to a transaction. */
type Change = { put: ScheduledRetry } | { add: ScheduledRetry } | { remove: string };

/** Schedule writes finishing within this window share one commit (like attempts: a failing endpoint makes several per delivery). */
const CHANGE_FLUSH_MS = 5;
/** Rows written per synchronous transaction (a few ms of the event loop at most). */
const SLICE_ROWS = 250;

export class SqliteRetrySchedule implements RetrySchedule {
  private readonly writer: Coalescer<Change, void>;

  constructor(private readonly db: Database) {
    this.writer = new Coalescer((changes) => this.write(changes), { maxItems: SLICE_ROWS, maxWaitMs: 0, minIntervalMs: CHANGE_FLUSH_MS, serial: true });
  }

  ping(): Promise<void> {
    return pingDatabase(this.db);
  }

  async schedule(items: ScheduledRetry[]): Promise<void> {
    await this.writer.submit(items.map((put) => ({ put })));
  }

  async ensureScheduled(items: ScheduledRetry[]): Promise<void> {
    await this.writer.submit(items.map((add) => ({ add })));
  }

  private write(changes: Change[]): void[] {
    const upsert = this.db.query("INSERT INTO retry_schedule (delivery_id, due_at) VALUES (?, ?) ON CONFLICT (delivery_id) DO UPDATE SET due_at = excluded.due_at");
    const add = this.db.query("INSERT INTO retry_schedule (delivery_id, due_at) VALUES (?, ?) ON CONFLICT (delivery_id) DO NOTHING");
    const remove = this.db.query("DELETE FROM retry_schedule WHERE delivery_id = ?");
    this.db.transaction(() => {
      for (const change of changes) {
        if ("put" in change) upsert.run(change.put.deliveryId, change.put.dueAt);
        else if ("add" in change) add.run(change.add.deliveryId, change.add.dueAt);
        else remove.run(change.remove);
      }
    })();
    return changes.map(() => undefined);
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ScheduledRetry[]> {
    const due = this.db.query<{ delivery_id: string; due_at: number }, [number, number]>("SELECT delivery_id, due_at FROM retry_schedule WHERE due_at <= ? ORDER BY due_at LIMIT ?");
    // The lease is the due time moved forward: if this worker dies the item is due again then.
    const lease = this.db.query("UPDATE retry_schedule SET due_at = ? WHERE delivery_id = ? AND due_at = ?");
    return this.db
      .transaction(() => {
        const claimed: ScheduledRetry[] = [];
        for (const row of due.all(now, limit)) {
          if (lease.run(now + leaseMs, row.delivery_id, row.due_at).changes > 0) claimed.push({ deliveryId: row.delivery_id, dueAt: row.due_at });
        }
        return claimed;
      })
      .immediate();
  }

  async complete(deliveryIds: string[]): Promise<void> {
    await this.writer.submit(deliveryIds.map((remove) => ({ remove })));
  }

  async scheduled(deliveryIds: string[]): Promise<Set<string>> {
    const on = this.db.query<{ delivery_id: string }, [string]>("SELECT delivery_id FROM retry_schedule WHERE delivery_id = ?");
    return new Set(deliveryIds.filter((id) => on.get(id) !== null));
  }

  async depth(): Promise<number> {
    return this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM retry_schedule").get()!.n;
  }

  async nextDue(): Promise<number | null> {
    return this.db.query<{ due: number | null }, []>("SELECT min(due_at) AS due FROM retry_schedule").get()!.due;
  }
}
