-- socred schema, version 5: retention. A record's personal fields are
-- purged its scheme's retain_for after it stops counting; purges holds the
-- purges to come, in the order they fall due.

ALTER TABLE records ADD COLUMN purged_at INTEGER;

CREATE TABLE purges (
	at      INTEGER NOT NULL,
	record  INTEGER NOT NULL,
	subject TEXT NOT NULL,
	PRIMARY KEY (at, record)
) WITHOUT ROWID;
