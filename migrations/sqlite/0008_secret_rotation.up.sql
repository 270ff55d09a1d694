-- Secret rotation with overlap: the secret a webhook had before its last rotation (sealed like
-- `secret`), kept until `previous_secret_expires_at` (ms); deliveries until then carry a signature
-- made with each.
ALTER TABLE webhooks ADD COLUMN previous_secret TEXT;
ALTER TABLE webhooks ADD COLUMN previous_secret_expires_at INTEGER;
