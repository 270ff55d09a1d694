CREATE INDEX attempts_by_delivery ON attempts (delivery_id, attempt_number);
DROP INDEX deliveries_unfinished_by_due;
DROP INDEX attempts_by_delivery_number;
