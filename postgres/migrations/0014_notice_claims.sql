-- socred schema, version 14: servers sharing the database claim the pending
-- notices they deliver, so that each is delivered by one server (until the
-- claim's lease ends: a server that stopped leaves its claims to the others).
ALTER TABLE notices ADD COLUMN claimed_by TEXT, ADD COLUMN claimed_until BIGINT;
