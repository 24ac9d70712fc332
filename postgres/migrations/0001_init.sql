-- socred schema, version 1, for PostgreSQL. Times are Unix microseconds
-- (UTC), as in the SQLite store.
--
-- The statements keep to what CockroachDB and YugabyteDB accept too, except
-- the PARTITION clauses, which are PostgreSQL's. The large tables (records,
-- checks, accesses, listings) are keyed by subject first, so that a
-- distributed database can spread them by subject and a subject's rows stay
-- together; in PostgreSQL records, checks and accesses are hash-partitioned
-- by subject.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value BIGINT NOT NULL
);

CREATE TABLE subjects (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	region     TEXT NOT NULL,
	groups     TEXT NOT NULL, -- JSON array of group ids
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE relations (
	from_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	to_id      TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	PRIMARY KEY (from_id, type, to_id)
);
CREATE INDEX relations_to ON relations (to_id);

-- Records are append-only; an overturned record keeps its row.
CREATE TABLE records (
	subject          TEXT NOT NULL,
	id               BIGINT NOT NULL,
	reporter         TEXT NOT NULL,
	key              TEXT, -- NULL for derived records
	scheme           TEXT NOT NULL,
	rule             TEXT NOT NULL,
	points           BIGINT NOT NULL,
	occurred_at      BIGINT NOT NULL,
	counts_until     BIGINT NOT NULL,
	evidence         TEXT NOT NULL,
	derived_from     BIGINT,
	derived_subject  TEXT,
	derived_relation TEXT,
	accepted_at      BIGINT NOT NULL,
	overturned_at    BIGINT,
	PRIMARY KEY (subject, id)
) PARTITION BY HASH (subject);
CREATE TABLE records_0 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE records_1 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE records_2 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE records_3 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE records_4 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE records_5 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE records_6 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE records_7 PARTITION OF records FOR VALUES WITH (MODULUS 8, REMAINDER 7);

-- A reporter's idempotency keys. A unique index on the partitioned records
-- table would have to include the subject, so the keys live here, written
-- in the same transaction as their records: a duplicate (reporter, key)
-- fails with unique_violation.
CREATE TABLE record_keys (
	reporter TEXT NOT NULL,
	key      TEXT NOT NULL,
	subject  TEXT NOT NULL,
	id       BIGINT NOT NULL,
	PRIMARY KEY (reporter, key)
);

CREATE TABLE designations (
	id         TEXT PRIMARY KEY,
	list       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	authority  TEXT NOT NULL,
	reason     TEXT NOT NULL,
	case_ref   TEXT NOT NULL,
	since      BIGINT NOT NULL,
	until      BIGINT NOT NULL,
	ended_at   BIGINT,
	end_reason TEXT NOT NULL,
	created_at BIGINT NOT NULL
);
CREATE INDEX designations_subject ON designations (subject, list);

-- A subject's own entries on lists, current (ended_at NULL) and past.
CREATE TABLE listings (
	subject     TEXT NOT NULL,
	id          BIGSERIAL,
	list        TEXT NOT NULL,
	designation TEXT NOT NULL, -- '' for automatic lists
	since       BIGINT NOT NULL,
	until       BIGINT,
	reason      TEXT NOT NULL,
	case_ref    TEXT NOT NULL,
	authority   TEXT NOT NULL,
	legal_basis TEXT NOT NULL,
	ended_at    BIGINT,
	PRIMARY KEY (subject, id)
);
CREATE UNIQUE INDEX listings_current ON listings (subject, list, designation) WHERE ended_at IS NULL;
CREATE INDEX listings_by_list ON listings (list, since) WHERE ended_at IS NULL;

-- Checks and accesses are numbered in the order they are stored; a
-- subject's newest come first by id.
CREATE TABLE checks (
	subject  TEXT NOT NULL,
	id       BIGSERIAL,
	at       BIGINT NOT NULL,
	by       TEXT NOT NULL,
	token_id TEXT NOT NULL,
	action   TEXT NOT NULL,
	purpose  TEXT NOT NULL,
	allowed  BOOLEAN NOT NULL,
	PRIMARY KEY (subject, id)
) PARTITION BY HASH (subject);
CREATE TABLE checks_0 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE checks_1 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE checks_2 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE checks_3 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE checks_4 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE checks_5 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE checks_6 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE checks_7 PARTITION OF checks FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE TABLE accesses (
	subject  TEXT NOT NULL,
	id       BIGSERIAL,
	at       BIGINT NOT NULL,
	by       TEXT NOT NULL,
	role     TEXT NOT NULL,
	token_id TEXT NOT NULL,
	purpose  TEXT NOT NULL,
	PRIMARY KEY (subject, id)
) PARTITION BY HASH (subject);
CREATE TABLE accesses_0 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE accesses_1 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE accesses_2 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE accesses_3 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE accesses_4 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE accesses_5 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE accesses_6 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE accesses_7 PARTITION OF accesses FOR VALUES WITH (MODULUS 8, REMAINDER 7);

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	hash       BYTEA NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	authority  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	actions    TEXT NOT NULL, -- JSON array
	name       TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

INSERT INTO meta (key, value) VALUES ('next_record_id', 1), ('settled', 0);
