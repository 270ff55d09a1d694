DROP INDEX deliveries_fifo_by_seq;
DROP INDEX deliveries_fifo_unfinished;
ALTER TABLE deliveries DROP COLUMN fifo_seq;
ALTER TABLE deliveries DROP COLUMN fifo_key;
DROP INDEX events_by_seq;
ALTER TABLE events DROP COLUMN seq;
