-- socred schema, version 7: credit-repair applications.

CREATE TABLE repairs (
	id            TEXT PRIMARY KEY,
	subject       TEXT NOT NULL,
	list          TEXT NOT NULL,
	designation   TEXT NOT NULL,
	route         TEXT NOT NULL,
	evidence      TEXT NOT NULL, -- JSON array of references
	statement     TEXT NOT NULL,
	filed_at      INTEGER NOT NULL,
	status        TEXT NOT NULL,
	decided_at    INTEGER,
	decided_by    TEXT NOT NULL,
	decider_token TEXT NOT NULL,
	reasons       TEXT NOT NULL
);
CREATE INDEX repairs_subject ON repairs (subject, filed_at);
