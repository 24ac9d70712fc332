-- socred schema, version 1. Times are Unix microseconds (UTC).

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE subjects (
	id         TEXT PRIMARY KEY,
	kind       TEXT NOT NULL,
	name       TEXT NOT NULL,
	region     TEXT NOT NULL,
	groups     TEXT NOT NULL, -- JSON array of group ids
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE relations (
	from_id    TEXT NOT NULL,
	type       TEXT NOT NULL,
	to_id      TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (from_id, type, to_id)
) WITHOUT ROWID;
CREATE INDEX relations_to ON relations (to_id);

-- Records are append-only; an overturned record keeps its row.
CREATE TABLE records (
	id               INTEGER PRIMARY KEY,
	reporter         TEXT NOT NULL,
	key              TEXT,    -- NULL for derived records
	subject          TEXT NOT NULL,
	scheme           TEXT NOT NULL,
	rule             TEXT NOT NULL,
	points           INTEGER NOT NULL,
	occurred_at      INTEGER NOT NULL,
	counts_until     INTEGER NOT NULL,
	evidence         TEXT NOT NULL,
	derived_from     INTEGER,
	derived_subject  TEXT,
	derived_relation TEXT,
	accepted_at      INTEGER NOT NULL,
	overturned_at    INTEGER
);
CREATE UNIQUE INDEX records_key ON records (reporter, key) WHERE key IS NOT NULL;

CREATE TABLE designations (
	id         TEXT PRIMARY KEY,
	list       TEXT NOT NULL,
	subject    TEXT NOT NULL,
	authority  TEXT NOT NULL,
	reason     TEXT NOT NULL,
	case_ref   TEXT NOT NULL,
	since      INTEGER NOT NULL,
	until      INTEGER NOT NULL,
	ended_at   INTEGER,
	end_reason TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX designations_subject ON designations (subject, list);

-- A subject's own entries on lists, current (ended_at NULL) and past.
CREATE TABLE listings (
	id          INTEGER PRIMARY KEY,
	subject     TEXT NOT NULL,
	list        TEXT NOT NULL,
	designation TEXT NOT NULL, -- '' for automatic lists
	since       INTEGER NOT NULL,
	until       INTEGER,
	reason      TEXT NOT NULL,
	case_ref    TEXT NOT NULL,
	authority   TEXT NOT NULL,
	legal_basis TEXT NOT NULL,
	ended_at    INTEGER
);
CREATE UNIQUE INDEX listings_current ON listings (subject, list, designation) WHERE ended_at IS NULL;
CREATE INDEX listings_by_list ON listings (list, since) WHERE ended_at IS NULL;

CREATE TABLE checks (
	id       INTEGER PRIMARY KEY,
	subject  TEXT NOT NULL,
	at       INTEGER NOT NULL,
	by       TEXT NOT NULL,
	token_id TEXT NOT NULL,
	action   TEXT NOT NULL,
	purpose  TEXT NOT NULL,
	allowed  INTEGER NOT NULL
);

CREATE TABLE accesses (
	id       INTEGER PRIMARY KEY,
	subject  TEXT NOT NULL,
	at       INTEGER NOT NULL,
	by       TEXT NOT NULL,
	role     TEXT NOT NULL,
	token_id TEXT NOT NULL,
	purpose  TEXT NOT NULL
);

CREATE TABLE tokens (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL UNIQUE,
	role       TEXT NOT NULL,
	authority  TEXT NOT NULL,
	subject    TEXT NOT NULL,
	actions    TEXT NOT NULL, -- JSON array
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) WITHOUT ROWID;

-- Subject indexes of the append-only tables. Appends do not touch them: the
-- store indexes new rows in memory and merges them here in large sorted
-- batches; meta '<table>_indexed' is the highest id merged.
CREATE TABLE records_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
CREATE TABLE checks_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;
CREATE TABLE accesses_by_subject (subject TEXT NOT NULL, id INTEGER NOT NULL, PRIMARY KEY (subject, id)) WITHOUT ROWID;

INSERT INTO meta (key, value) VALUES ('next_record_id', 1), ('settled', 0),
	('records_indexed', 0), ('checks_indexed', 0), ('accesses_indexed', 0);
