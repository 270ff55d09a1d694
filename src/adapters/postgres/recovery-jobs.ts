/** @module Bulk replay jobs on PostgreSQL. */
import { deliveryIdFloor } from "../../domain/ids.ts";
import type { DeliveryStatus, OperationalEvent, RecoveryJob } from "../../domain/model.ts";
import type { RecoveryJobs } from "../../domain/ports.ts";
import { inFlightColumn, type RecoveryJobRow, toRecoveryJob } from "../recovery-job-rows.ts";
import { guarded, type Sql } from "./client.ts";

export class PostgresRecoveryJobs implements RecoveryJobs {
  constructor(private readonly sql: Sql) {}

  async create(job: RecoveryJob): Promise<void> {
    const sql = this.sql;
    await guarded(sql`
      INSERT INTO recovery_jobs (id, customer_id, webhook_id, params, state, cursor, in_flight, progress, lease_until, created_at, updated_at, finished_at)
      VALUES (${job.id}, ${job.customerId}, ${job.webhookId}, ${sql.json(job.params as never)}, ${job.state}, ${job.cursor}, ${inFlightColumn(job)}, ${sql.json(job.progress as never)},
              ${job.leaseUntil}, ${job.createdAt}, ${job.updatedAt}, ${job.finishedAt})`);
  }

  async get(customerId: string, id: string): Promise<RecoveryJob | undefined> {
    const [row] = await guarded(this.sql<RecoveryJobRow[]>`SELECT * FROM recovery_jobs WHERE customer_id = ${customerId} AND id = ${id}`);
    return row ? toRecoveryJob(row) : undefined;
  }

  async claim(now: number, leaseMs: number): Promise<RecoveryJob | undefined> {
    const [row] = await guarded(this.sql<RecoveryJobRow[]>`
      UPDATE recovery_jobs SET lease_until = ${now + leaseMs}::bigint
      WHERE id = (SELECT id FROM recovery_jobs WHERE state = 'running' AND lease_until <= ${now}::bigint ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)
      RETURNING *`);
    return row ? toRecoveryJob(row) : undefined;
  }

  async save(job: RecoveryJob): Promise<boolean> {
    const sql = this.sql;
    const result = await guarded(sql`
      UPDATE recovery_jobs SET state = ${job.state}, cursor = ${job.cursor}, in_flight = ${inFlightColumn(job)}, progress = ${sql.json(job.progress as never)},
        lease_until = ${job.leaseUntil}::bigint, updated_at = ${job.updatedAt}::bigint, finished_at = ${job.finishedAt}
      WHERE id = ${job.id} AND state = 'running'`);
    return result.count > 0;
  }

  async cancel(customerId: string, id: string, now: number): Promise<RecoveryJob | undefined> {
    await guarded(this.sql`
      UPDATE recovery_jobs SET state = 'cancelled', in_flight = NULL, updated_at = ${now}::bigint, finished_at = ${now}::bigint
      WHERE customer_id = ${customerId} AND id = ${id} AND state = 'running'`);
    return this.get(customerId, id);
  }

  async count(customerId: string, webhookId: string, status: DeliveryStatus, since: number, until: number | null): Promise<number> {
    const [row] = await guarded(this.sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM deliveries
      WHERE webhook_id = ${webhookId} AND status = ${status} AND id >= ${deliveryIdFloor(since)} AND id < ${until === null ? "del_~" : deliveryIdFloor(until)} AND customer_id = ${customerId}`);
    return row!.n;
  }

  async finished(e: OperationalEvent): Promise<void> {
    await guarded(this.sql`
      INSERT INTO operational_events (id, customer_id, webhook_id, type, reason, created_at)
      VALUES (${e.id}, ${e.customerId}, ${e.webhookId}, ${e.type}, ${e.reason}, ${e.createdAt}) ON CONFLICT DO NOTHING`);
  }
}
