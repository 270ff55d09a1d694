DROP INDEX deliveries_failing_by_updated;
DROP TABLE replays;
ALTER TABLE attempts DROP COLUMN next_attempt_at;
