-- socred schema, version 10: the web pages' sign-in sessions. A session is
-- kept by the SHA-256 of its cookie's secret, never the secret itself, with
-- the hash of the token signed in with and its anti-forgery token. Expired
-- sessions are never found, and are removed when another session ends.

CREATE TABLE sessions (
	hash       BLOB PRIMARY KEY,  -- SHA-256 of the cookie's secret
	token_hash BLOB NOT NULL,     -- tokens.hash, or the admin's
	csrf       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX sessions_expires ON sessions (expires_at);
