-- socred schema, version 2: the change feed that servers sharing the
-- database tail (see socred.Change). meta 'feed_seq' is the last change; a
-- writer updates it first in its transaction, so changes commit one at a
-- time and in the order of their numbers.

CREATE TABLE changes (
	seq  BIGINT PRIMARY KEY,
	at   BIGINT NOT NULL,
	body BYTEA NOT NULL -- JSON, socred.ChangeBody
);

INSERT INTO meta (key, value) VALUES ('feed_seq', 0);

-- Servers take turns at writing changes by holding a lock on this row for
-- as long as they plan and commit (see socred.TurnTaker).
INSERT INTO meta (key, value) VALUES ('feed_turn', 0);
