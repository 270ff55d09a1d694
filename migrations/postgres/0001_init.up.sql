-- hookrelay production schema: configuration, events (with the Kafka outbox mark), deliveries, attempts.
-- Times are BIGINT milliseconds since the epoch; webhook times stay the ISO strings the API returns.
-- Consumer offsets live in Kafka and the retry schedule in Redis, so neither has a table here.
CREATE TABLE customers (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at BIGINT NOT NULL
);

CREATE TABLE users (
  username      TEXT PRIMARY KEY,
  customer_id   TEXT NOT NULL REFERENCES customers(id),
  password_hash TEXT NOT NULL,
  scopes        JSONB NOT NULL
);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  url         TEXT NOT NULL,
  event_types JSONB NOT NULL,
  headers     JSONB NOT NULL,
  description TEXT,
  secret      TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'disabled')),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX webhooks_by_customer ON webhooks (customer_id, id);
CREATE INDEX webhooks_active ON webhooks (id) WHERE status = 'active';

-- (customer_id, id) makes ingest idempotent. published_at NULL: accepted by ingest, not yet
-- confirmed produced to Kafka (the outbox); rows the store inserts itself are already published.
CREATE TABLE events (
  customer_id  TEXT NOT NULL,
  id           TEXT NOT NULL,
  type         TEXT NOT NULL,
  source       TEXT NOT NULL,
  timestamp    TEXT NOT NULL,
  payload      TEXT NOT NULL,
  accepted_at  BIGINT NOT NULL,
  published_at BIGINT NULL,
  PRIMARY KEY (customer_id, id)
);
CREATE INDEX events_unpublished ON events (accepted_at) WHERE published_at IS NULL;
-- Retention: accepted_at grows with insertion order, so a block-range index is tiny and cheap to keep.
CREATE INDEX events_by_accepted ON events USING brin (accepted_at);

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY,
  customer_id      TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  webhook_id       TEXT NOT NULL,
  status           TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed', 'dead')),
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  round_start      INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error       TEXT,
  next_attempt_at  BIGINT,
  created_at       BIGINT NOT NULL,
  updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX deliveries_by_pair ON deliveries (customer_id, event_id, webhook_id);
CREATE INDEX deliveries_by_customer ON deliveries (customer_id, id);
CREATE INDEX deliveries_by_customer_status ON deliveries (customer_id, status, id);
CREATE INDEX deliveries_by_webhook_status ON deliveries (webhook_id, status, id);
-- Retention: only finished deliveries are ever pruned, oldest first.
CREATE INDEX deliveries_finished_by_updated ON deliveries (updated_at) WHERE status IN ('succeeded', 'dead');

CREATE TABLE attempts (
  id             TEXT PRIMARY KEY,
  delivery_id    TEXT NOT NULL,
  customer_id    TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  status_code    INTEGER,
  duration_ms    DOUBLE PRECISION NOT NULL,
  error          TEXT,
  response_body  TEXT,
  created_at     BIGINT NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt_number);
CREATE INDEX attempts_by_created ON attempts USING brin (created_at);
