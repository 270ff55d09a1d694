-- Bulk replay (POST /api/v1/webhooks/{id}/recover): a job per recovery, run by one retry process at
-- a time (its lease), resumed from its cursor after a restart; `in_flight` names the delivery being
-- sent, so a job resumed after a crash sends it only if it was not sent.
CREATE TABLE recovery_jobs (
  id           TEXT PRIMARY KEY,
  customer_id  TEXT NOT NULL,
  webhook_id   TEXT NOT NULL,
  params       TEXT NOT NULL,
  state        TEXT NOT NULL,
  cursor       TEXT,
  in_flight    TEXT,
  progress     TEXT NOT NULL,
  lease_until  INTEGER NOT NULL,
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL,
  finished_at  INTEGER
);
CREATE INDEX recovery_jobs_running ON recovery_jobs (lease_until) WHERE state = 'running';
