-- Bulk replay (POST /api/v1/webhooks/{id}/recover): a job per recovery, run by one retry process at
-- a time (its lease), resumed from its cursor after a restart; `in_flight` names the delivery being
-- sent, so a job resumed after a crash sends it only if it was not sent.
CREATE TABLE recovery_jobs (
  id           TEXT PRIMARY KEY,
  customer_id  TEXT NOT NULL,
  webhook_id   TEXT NOT NULL,
  params       JSONB NOT NULL,
  state        TEXT NOT NULL,
  cursor       TEXT,
  in_flight    TEXT,
  progress     JSONB NOT NULL,
  lease_until  BIGINT NOT NULL,
  created_at   BIGINT NOT NULL,
  updated_at   BIGINT NOT NULL,
  finished_at  BIGINT
);
CREATE INDEX recovery_jobs_running ON recovery_jobs (lease_until) WHERE state = 'running';
