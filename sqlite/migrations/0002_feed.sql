-- socred schema, version 2: the change feed that servers sharing the
-- database tail (see socred.Change). meta 'feed_seq' is the last change.

CREATE TABLE changes (
	seq  INTEGER PRIMARY KEY,
	at   INTEGER NOT NULL,
	body BLOB NOT NULL -- JSON, socred.ChangeBody
);

INSERT INTO meta (key, value) VALUES ('feed_seq', 0);
