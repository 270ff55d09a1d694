DROP INDEX deliveries_fifo_by_seq;
DROP INDEX deliveries_fifo_unfinished;
ALTER TABLE deliveries DROP COLUMN fifo_seq;
ALTER TABLE deliveries DROP COLUMN fifo_key;
