-- socred schema, version 17: an ended designation keeps its reason, case and
-- end reason for its list's retain_for, then they are purged (purged_at), on
-- the designation and on its entries in listings. The index finds those due.
ALTER TABLE designations ADD COLUMN purged_at INTEGER;
CREATE INDEX designations_ended ON designations (list, COALESCE(ended_at, until)) WHERE purged_at IS NULL;
