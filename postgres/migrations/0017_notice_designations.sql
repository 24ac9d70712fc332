-- socred schema, version 17: the designations a notice describes an entry
-- of (its reason, case or end reason in their events), so that the purge of
-- an ended designation's text clears it from them too: the subject's own and
-- those of subjects it reached through a relation. Filled from the notices
-- already kept; NULL for the many that describe none.
ALTER TABLE notices ADD COLUMN designations TEXT[];
UPDATE notices SET designations = NULLIF(ARRAY(
		SELECT DISTINCT e->'listing'->>'designation'
		FROM jsonb_array_elements(convert_from(body, 'UTF8')::jsonb->'events') e
		WHERE e->'listing'->>'designation' IS NOT NULL), '{}')
	WHERE position('"designation":' IN convert_from(body, 'UTF8')) > 0;
CREATE INDEX notices_designations ON notices USING GIN (designations) WHERE designations IS NOT NULL;
