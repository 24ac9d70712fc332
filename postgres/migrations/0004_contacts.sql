-- socred schema, version 4: where subjects receive notices by e-mail, kept
-- apart from the subjects themselves.

CREATE TABLE contacts (
	subject    TEXT PRIMARY KEY,
	email      TEXT NOT NULL,
	updated_at BIGINT NOT NULL
);
