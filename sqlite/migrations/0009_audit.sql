-- socred schema, version 9: the tamper-evident audit log. Each write that
-- logs events appends one block: its leaves (kind, reference, salted event
-- hash; never personal data) and the Merkle tree's hashes they added, by
-- stored index as golang.org/x/mod/sumdb/tlog numbers them. Records and
-- checks keep their receipt, the index of their leaf.

CREATE TABLE audit_log (
	first  INTEGER PRIMARY KEY, -- index of the block's first leaf
	leaves BLOB NOT NULL,       -- audit.AppendLeaves
	hashes BLOB NOT NULL        -- 32 bytes each, from tlog.StoredHashCount(first)
);

CREATE TABLE audit_checkpoints (
	size INTEGER PRIMARY KEY,
	at   INTEGER NOT NULL,
	note BLOB NOT NULL -- signed note, C2SP tlog-checkpoint
);

CREATE TABLE audit_keys (
	name  TEXT PRIMARY KEY, -- signer, verifier, salt
	value BLOB NOT NULL
) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('audit_size', 0);

ALTER TABLE records ADD COLUMN log_index INTEGER;
ALTER TABLE checks ADD COLUMN log_index INTEGER;
