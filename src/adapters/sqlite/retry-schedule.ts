/** @module The RetrySchedule port on embedded SQLite: one row per delivery, indexed by due time. */
import type { Database } from "bun:sqlite";
import type { RetrySchedule, ScheduledRetry } from "../../domain/ports.ts";
import { pingDatabase } from "./database.ts";

export class SqliteRetrySchedule implements RetrySchedule {
  constructor(private readonly db: Database) {}

  ping(): Promise<void> {
    return pingDatabase(this.db);
  }

  async schedule(items: ScheduledRetry[]): Promise<void> {
    const upsert = this.db.query(
      "INSERT INTO retry_schedule (delivery_id, due_at) VALUES (?, ?) ON CONFLICT (delivery_id) DO UPDATE SET due_at = excluded.due_at",
    );
    this.db.transaction(() => {
      for (const item of items) upsert.run(item.deliveryId, item.dueAt);
    })();
  }

  async claim(now: number, limit: number, leaseMs: number): Promise<ScheduledRetry[]> {
    const due = this.db.query<{ delivery_id: string; due_at: number }, [number, number]>(
      "SELECT delivery_id, due_at FROM retry_schedule WHERE due_at <= ? ORDER BY due_at LIMIT ?",
    );
    // The lease is the due time moved forward: if this worker dies the item is due again then.
    const lease = this.db.query("UPDATE retry_schedule SET due_at = ? WHERE delivery_id = ? AND due_at = ?");
    return this.db.transaction(() => {
      const claimed: ScheduledRetry[] = [];
      for (const row of due.all(now, limit)) {
        if (lease.run(now + leaseMs, row.delivery_id, row.due_at).changes > 0) claimed.push({ deliveryId: row.delivery_id, dueAt: row.due_at });
      }
      return claimed;
    }).immediate();
  }

  async complete(deliveryIds: string[]): Promise<void> {
    const remove = this.db.query("DELETE FROM retry_schedule WHERE delivery_id = ?");
    this.db.transaction(() => {
      for (const id of deliveryIds) remove.run(id);
    })();
  }

  async depth(): Promise<number> {
    return this.db.query<{ n: number }, []>("SELECT count(*) AS n FROM retry_schedule").get()!.n;
  }
}
