-- The operator's reads: when each attempt put the next try, manual retries (replays), and the
-- failing deliveries by when they last changed.
-- Nullable and without a default: rows written before this migration read null.
ALTER TABLE attempts ADD COLUMN next_attempt_at INTEGER;

-- One row per manual retry (requeueDelivery); pruned with its delivery.
CREATE TABLE replays (
  delivery_id TEXT NOT NULL,
  customer_id TEXT NOT NULL,
  at          INTEGER NOT NULL
);
CREATE INDEX replays_by_delivery ON replays (delivery_id, at);

-- Partial: deliveries that succeed (the hot path) never enter it, so it costs nothing there and
-- the dashboard's failure reads (recentFailures, webhookHealth) touch failing rows only.
CREATE INDEX deliveries_failing_by_updated ON deliveries (updated_at) WHERE status IN ('failed', 'dead');
