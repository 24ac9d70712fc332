-- socred schema, version 9: the tamper-evident audit log. Each write that
-- logs events appends one block: its leaves (kind, reference, salted event
-- hash; never personal data) and the Merkle tree's hashes they added, by
-- stored index as golang.org/x/mod/sumdb/tlog numbers them. Records and
-- checks keep their receipt, the index of their leaf.
--
-- meta 'audit_size' is the number of leaves. An appender locks its row
-- first (SELECT ... FOR UPDATE) and updates it in the transaction that
-- stores the block, so that servers sharing the database append one after
-- the other and the log never forks.

CREATE TABLE audit_log (
	first  BIGINT PRIMARY KEY, -- index of the block's first leaf
	leaves BYTEA NOT NULL,     -- audit.AppendLeaves
	hashes BYTEA NOT NULL      -- 32 bytes each, from tlog.StoredHashCount(first)
);

CREATE TABLE audit_checkpoints (
	size BIGINT PRIMARY KEY,
	at   BIGINT NOT NULL,
	note BYTEA NOT NULL -- signed note, C2SP tlog-checkpoint
);

CREATE TABLE audit_keys (
	name  TEXT PRIMARY KEY, -- signer, verifier, salt
	value BYTEA NOT NULL
);

INSERT INTO meta (key, value) VALUES ('audit_size', 0);

-- On the partitioned parents, so every partition gets them; without a
-- default, adding them rewrites nothing.
ALTER TABLE records ADD COLUMN log_index BIGINT;
ALTER TABLE checks ADD COLUMN log_index BIGINT;
