-- Retention reads only what it prunes: finished deliveries by when they last changed, events by
-- when they were accepted (without these, every pruning pass scanned both tables whole).
CREATE INDEX deliveries_finished_by_updated ON deliveries (updated_at) WHERE status IN ('succeeded', 'dead');
CREATE INDEX events_by_accepted ON events (accepted_at);
