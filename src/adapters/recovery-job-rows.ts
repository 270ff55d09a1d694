/** @module A recovery job as both stores keep it: its parameters and progress as JSON (text in SQLite, JSONB in PostgreSQL). */
import type { RecoveryJob } from "../domain/model.ts";
import { parsedJson } from "./rows.ts";

export interface RecoveryJobRow {
  id: string;
  customer_id: string;
  webhook_id: string;
  params: string | RecoveryJob["params"];
  state: string;
  cursor: string | null;
  in_flight: string | null;
  progress: string | RecoveryJob["progress"];
  lease_until: number | string;
  created_at: number | string;
  updated_at: number | string;
  finished_at: number | string | null;
}

export function toRecoveryJob(row: RecoveryJobRow): RecoveryJob {
  return {
    id: row.id,
    customerId: row.customer_id,
    webhookId: row.webhook_id,
    params: parsedJson(row.params),
    state: row.state as RecoveryJob["state"],
    cursor: row.cursor,
    inFlight: row.in_flight === null ? null : (JSON.parse(row.in_flight) as RecoveryJob["inFlight"]),
    progress: parsedJson(row.progress),
    leaseUntil: Number(row.lease_until),
    createdAt: Number(row.created_at),
    updatedAt: Number(row.updated_at),
    finishedAt: row.finished_at === null ? null : Number(row.finished_at),
  };
}

/** The in-flight column: JSON text in both stores. */
export const inFlightColumn = (job: RecoveryJob) => (job.inFlight === null ? null : JSON.stringify(job.inFlight));
