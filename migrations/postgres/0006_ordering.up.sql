-- Ordered delivery (a webhook's `ordering`): each event gets its place in ingest order when it is
-- stored (`seq`, from a sequence; events stored before this migration have none and come first), and
-- a delivery to such a webhook keeps its ordering key and its event's `seq`, and waits until it is
-- the first unfinished one of its key (src/services/delivery/sequencer.ts).
CREATE SEQUENCE events_seq;
ALTER TABLE events ADD COLUMN seq BIGINT;
ALTER TABLE events ALTER COLUMN seq SET DEFAULT nextval('events_seq');
ALTER SEQUENCE events_seq OWNED BY events.seq;
-- BRIN, like accepted_at's: seq grows with the table, and a B-tree would cost every insert a write.
CREATE INDEX events_by_seq ON events USING brin (seq);

ALTER TABLE deliveries ADD COLUMN fifo_key TEXT;
ALTER TABLE deliveries ADD COLUMN fifo_seq BIGINT;
CREATE INDEX deliveries_fifo_unfinished ON deliveries (webhook_id, fifo_key, fifo_seq) WHERE fifo_key IS NOT NULL AND status IN ('pending', 'failed');
CREATE INDEX deliveries_fifo_by_seq ON deliveries (webhook_id, fifo_seq) WHERE fifo_key IS NOT NULL;
