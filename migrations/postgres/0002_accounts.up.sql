-- API keys of customers: only a hash of each key is kept; the prefix tells keys apart in lists.
CREATE TABLE api_keys (
  id          TEXT PRIMARY KEY,
  customer_id TEXT NOT NULL REFERENCES customers(id),
  name        TEXT NOT NULL,
  prefix      TEXT NOT NULL,
  hash        TEXT NOT NULL UNIQUE,
  scopes      JSONB NOT NULL,
  created_at  BIGINT NOT NULL,
  expires_at  BIGINT,
  revoked_at  BIGINT
);
CREATE INDEX api_keys_by_customer ON api_keys (customer_id, id);
