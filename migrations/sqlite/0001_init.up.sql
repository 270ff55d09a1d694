-- hookrelay embedded schema: configuration, the event log, deliveries, attempts, retry schedule.
CREATE TABLE customers (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  created_at INTEGER NOT NULL
);

CREATE TABLE users (
  username      TEXT PRIMARY KEY,
  customer_id   TEXT NOT NULL REFERENCES customers(id),
  password_hash TEXT NOT NULL,
  scopes        TEXT NOT NULL
);

CREATE TABLE settings (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE webhooks (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL,
  url         TEXT NOT NULL,
  event_types TEXT NOT NULL,
  headers     TEXT NOT NULL,
  description TEXT,
  secret      TEXT NOT NULL,
  status      TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
CREATE INDEX webhooks_by_customer ON webhooks (customer_id, id);

-- The event log: seq is the position; (customer_id, id) makes ingest idempotent.
CREATE TABLE events (
  seq         INTEGER PRIMARY KEY AUTOINCREMENT,
  customer_id TEXT NOT NULL,
  id          TEXT NOT NULL,
  type        TEXT NOT NULL,
  source      TEXT NOT NULL,
  timestamp   TEXT NOT NULL,
  payload     TEXT NOT NULL,
  accepted_at INTEGER NOT NULL,
  UNIQUE (customer_id, id)
);

CREATE TABLE consumer_offsets (
  grp      TEXT PRIMARY KEY,
  position INTEGER NOT NULL
);

CREATE TABLE deliveries (
  id               TEXT PRIMARY KEY,
  customer_id      TEXT NOT NULL,
  event_id         TEXT NOT NULL,
  webhook_id       TEXT NOT NULL,
  status           TEXT NOT NULL,
  attempt_count    INTEGER NOT NULL DEFAULT 0,
  round_start      INTEGER NOT NULL DEFAULT 0,
  last_status_code INTEGER,
  last_error       TEXT,
  next_attempt_at  INTEGER,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  UNIQUE (customer_id, event_id, webhook_id)
);
CREATE INDEX deliveries_by_customer ON deliveries (customer_id, id);
CREATE INDEX deliveries_by_customer_status ON deliveries (customer_id, status, id);
CREATE INDEX deliveries_by_webhook_status ON deliveries (webhook_id, status, id);

CREATE TABLE attempts (
  id             TEXT PRIMARY KEY,
  delivery_id    TEXT NOT NULL,
  customer_id    TEXT NOT NULL,
  attempt_number INTEGER NOT NULL,
  status_code    INTEGER,
  duration_ms    REAL NOT NULL,
  error          TEXT,
  response_body  TEXT,
  created_at     INTEGER NOT NULL
);
CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt_number);

-- due_at doubles as the lease: a claim moves it forward, so a dead worker's claim reappears.
CREATE TABLE retry_schedule (
  delivery_id TEXT PRIMARY KEY,
  due_at      INTEGER NOT NULL
);
CREATE INDEX retry_schedule_by_due ON retry_schedule (due_at);
