-- socred schema, version 13: tokens can be revoked (DELETE /v1/tokens/{id});
-- a revoked token authenticates no one.
ALTER TABLE tokens ADD COLUMN revoked_at BIGINT;
