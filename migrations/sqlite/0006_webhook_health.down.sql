DROP TABLE operational_events;
ALTER TABLE webhooks DROP COLUMN settings;
ALTER TABLE webhooks DROP COLUMN resumed_at;
ALTER TABLE webhooks DROP COLUMN pause;
ALTER TABLE webhooks DROP COLUMN disabled_reason;
