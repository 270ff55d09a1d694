-- One attempt row per (delivery, attempt number): a write repeated after a lost acknowledgement
-- cannot leave a second row. Rows two writes left before this rule go first (the earliest kept).
DELETE FROM attempts WHERE rowid NOT IN (
  SELECT min(rowid) FROM attempts GROUP BY delivery_id, attempt_number
);
CREATE UNIQUE INDEX attempts_by_delivery_number ON attempts (delivery_id, attempt_number);
DROP INDEX attempts_by_delivery; -- the unique index serves its reads

-- Unfinished deliveries by when they are due: the retry manager's sweep finds one that was stored
-- but never scheduled (a process gone between the two writes) without reading finished rows.
-- Rows from before carry no due time: they count as due when they last changed.
UPDATE deliveries SET next_attempt_at = updated_at WHERE status IN ('pending', 'failed') AND next_attempt_at IS NULL;
CREATE INDEX deliveries_unfinished_by_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'failed');
