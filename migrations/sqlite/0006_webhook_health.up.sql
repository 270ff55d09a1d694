-- Why hookrelay disabled a webhook (410 Gone, failing too long), its delivery settings as JSON
-- (permanent failure codes now; settings added later need no migration), and its circuit breaker:
-- `pause` (JSON) while open, when it last closed (`resumed_at`, ms).
ALTER TABLE webhooks ADD COLUMN disabled_reason TEXT;
ALTER TABLE webhooks ADD COLUMN pause TEXT;
ALTER TABLE webhooks ADD COLUMN resumed_at BIGINT;
ALTER TABLE webhooks ADD COLUMN settings TEXT NOT NULL DEFAULT '{}';

-- What became of a webhook's health (webhook.disabled, .paused, .resumed), newest first per customer.
CREATE TABLE operational_events (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  webhook_id  TEXT NOT NULL,
  type        TEXT NOT NULL,
  reason      TEXT NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX operational_events_by_customer ON operational_events (customer_id, id);
CREATE INDEX operational_events_by_webhook ON operational_events (customer_id, webhook_id, id);
