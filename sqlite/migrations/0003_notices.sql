-- socred schema, version 3: notices. A notice is kept with its subject and,
-- while pending is not 0, waits for delivery; the partial index on pending
-- notices grows at its end, as ids do.

CREATE TABLE notices (
	id      INTEGER PRIMARY KEY,
	subject TEXT NOT NULL,
	at      INTEGER NOT NULL,
	body    TEXT NOT NULL, -- JSON, socred.Notice
	pending INTEGER NOT NULL
);
CREATE INDEX notices_pending ON notices (id) WHERE pending <> 0;
CREATE TABLE notices_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('notices_indexed', 0);
