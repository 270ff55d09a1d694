-- Finding events and deliveries (GET /api/v1/events, GET /api/v1/webhooks/{id}/deliveries): a
-- customer's events newest first, all of them or of one type, each page a seek in one of these
-- (they cover the page's keys, so a filter on delivery status reads only them and the deliveries'
-- unique index); and a webhook's deliveries newest first (delivery ids begin with the event's
-- acceptance time, so a time range is an id range).
CREATE INDEX events_by_customer_time ON events (customer_id, accepted_at, id);
CREATE INDEX events_by_customer_type_time ON events (customer_id, type, accepted_at, id);
CREATE INDEX deliveries_by_webhook ON deliveries (webhook_id, id);
