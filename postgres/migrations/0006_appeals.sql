-- socred schema, version 6: appeals, and finding the records derived from
-- a record (to overturn them with it).

CREATE TABLE appeals (
	id            TEXT PRIMARY KEY,
	subject       TEXT NOT NULL,
	record        TEXT NOT NULL, -- '' for a listing
	list          TEXT NOT NULL,
	designation   TEXT NOT NULL,
	statement     TEXT NOT NULL,
	filed_at      BIGINT NOT NULL,
	review_due    BIGINT NOT NULL,
	status        TEXT NOT NULL,
	decided_at    BIGINT,
	decided_by    TEXT NOT NULL,
	decider_token TEXT NOT NULL,
	reasons       TEXT NOT NULL
);
CREATE INDEX appeals_subject ON appeals (subject, filed_at);
CREATE INDEX records_derived ON records (derived_from) WHERE derived_from IS NOT NULL;
