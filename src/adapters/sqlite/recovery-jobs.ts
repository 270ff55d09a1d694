/** @module Bulk replay jobs on embedded SQLite. */
import type { Database } from "bun:sqlite";
import { deliveryIdFloor } from "../../domain/ids.ts";
import type { DeliveryStatus, OperationalEvent, RecoveryJob } from "../../domain/model.ts";
import type { RecoveryJobs } from "../../domain/ports.ts";
import { inFlightColumn, type RecoveryJobRow, toRecoveryJob } from "../recovery-job-rows.ts";

export class SqliteRecoveryJobs implements RecoveryJobs {
  constructor(private readonly db: Database) {}

  async create(job: RecoveryJob): Promise<void> {
    this.db.run(
      `INSERT INTO recovery_jobs (id, customer_id, webhook_id, params, state, cursor, in_flight, progress, lease_until, created_at, updated_at, finished_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        job.id,
        job.customerId,
        job.webhookId,
        JSON.stringify(job.params),
        job.state,
        job.cursor,
        inFlightColumn(job),
        JSON.stringify(job.progress),
        job.leaseUntil,
        job.createdAt,
        job.updatedAt,
        job.finishedAt,
      ],
    );
  }

  async get(customerId: string, id: string): Promise<RecoveryJob | undefined> {
    const row = this.db.query<RecoveryJobRow, [string, string]>("SELECT * FROM recovery_jobs WHERE customer_id = ? AND id = ?").get(customerId, id);
    return row ? toRecoveryJob(row) : undefined;
  }

  async claim(now: number, leaseMs: number): Promise<RecoveryJob | undefined> {
    const row = this.db
      .query<RecoveryJobRow, [number, number]>(
        `UPDATE recovery_jobs SET lease_until = ?1 WHERE id = (SELECT id FROM recovery_jobs WHERE state = 'running' AND lease_until <= ?2 ORDER BY created_at LIMIT 1) RETURNING *`,
      )
      .get(now + leaseMs, now);
    return row ? toRecoveryJob(row) : undefined;
  }

  async save(job: RecoveryJob): Promise<boolean> {
    return (
      this.db.run(`UPDATE recovery_jobs SET state = ?, cursor = ?, in_flight = ?, progress = ?, lease_until = ?, updated_at = ?, finished_at = ? WHERE id = ? AND state = 'running'`, [
        job.state,
        job.cursor,
        inFlightColumn(job),
        JSON.stringify(job.progress),
        job.leaseUntil,
        job.updatedAt,
        job.finishedAt,
        job.id,
      ]).changes > 0
    );
  }

  async cancel(customerId: string, id: string, now: number): Promise<RecoveryJob | undefined> {
    this.db.run("UPDATE recovery_jobs SET state = 'cancelled', in_flight = NULL, updated_at = ?, finished_at = ? WHERE customer_id = ? AND id = ? AND state = 'running'", [now, now, customerId, id]);
    return this.get(customerId, id);
  }

  async count(customerId: string, webhookId: string, status: DeliveryStatus, since: number, until: number | null): Promise<number> {
    return this.db
      .query<{ n: number }, [string, string, string, string, string]>("SELECT count(*) AS n FROM deliveries WHERE webhook_id = ? AND status = ? AND id >= ? AND id < ? AND customer_id = ?")
      .get(webhookId, status, deliveryIdFloor(since), until === null ? "del_~" : deliveryIdFloor(until), customerId)!.n;
  }

  async finished(e: OperationalEvent): Promise<void> {
    this.db.run("INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", [
      e.id,
      e.customerId,
      e.webhookId,
      e.type,
      e.reason,
      e.createdAt,
    ]);
  }
}
