-- socred schema, version 18: the notices that describe a designated entry
-- (its reason, case or end reason in their events), by designation, so that
-- the purge of an ended designation's text clears it from them too: the
-- subject's own and those of subjects it reached through a relation. Filled
-- from the notices already kept.
CREATE TABLE notice_designations (
	designation TEXT NOT NULL,
	notice      INTEGER NOT NULL,
	PRIMARY KEY (designation, notice)
) WITHOUT ROWID;
INSERT OR IGNORE INTO notice_designations (designation, notice)
	SELECT json_extract(e.value, '$.listing.designation'), n.id
	FROM notices n, json_each(CAST(n.body AS TEXT), '$.events') e
	WHERE CAST(n.body AS TEXT) LIKE '%"designation":%'
		AND json_extract(e.value, '$.listing.designation') IS NOT NULL;
