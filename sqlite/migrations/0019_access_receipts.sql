-- socred schema, version 19: a read of a subject's file is logged in the
-- audit log like a check; log_index is its receipt (NULL for the reads
-- stored before).
ALTER TABLE accesses ADD COLUMN log_index INTEGER;
