-- The event type catalog (GET/POST/PATCH/DELETE /api/v1/event-types): each customer's event types,
-- with a description, an optional JSON Schema of the events' data (checked at ingest) and examples.
CREATE TABLE event_types (
  customer_id TEXT NOT NULL,
  name        TEXT NOT NULL,
  description TEXT NOT NULL,
  schema      TEXT,
  examples    TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (customer_id, name)
);
