-- Ordered delivery (a webhook's `ordering`): a delivery to such a webhook keeps its ordering key
-- and its event's place in the log (`events.seq`), and waits until it is the first unfinished one
-- of its key. The index finds each key's first (src/services/delivery/sequencer.ts).
ALTER TABLE deliveries ADD COLUMN fifo_key TEXT;
ALTER TABLE deliveries ADD COLUMN fifo_seq INTEGER;
CREATE INDEX deliveries_fifo_unfinished ON deliveries (webhook_id, fifo_key, fifo_seq) WHERE fifo_key IS NOT NULL AND status IN ('pending', 'failed');
CREATE INDEX deliveries_fifo_by_seq ON deliveries (webhook_id, fifo_seq) WHERE fifo_key IS NOT NULL;
