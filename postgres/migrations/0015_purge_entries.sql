-- socred schema, version 15: a purge is logged in the audit log, with the
-- record as it stands once purged (the record's first entry hashed its
-- evidence, which the purge removes); purge_log_index is that entry's index.
-- Records purged before have none: the server logs one for each (the index
-- finds them), and audit verify requires one of every purged record.
ALTER TABLE records ADD COLUMN purge_log_index BIGINT;
CREATE INDEX records_purge_unlogged ON records (subject, id) WHERE purged_at IS NOT NULL AND purge_log_index IS NULL;
