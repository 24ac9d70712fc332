-- socred schema, version 20: checks and accesses are deleted at the end of
-- their retention, the oldest first (numbered in the order they are
-- stored): an index by id finds them without reading every partition whole.
CREATE INDEX IF NOT EXISTS checks_by_id ON checks (id);
CREATE INDEX IF NOT EXISTS accesses_by_id ON accesses (id);
