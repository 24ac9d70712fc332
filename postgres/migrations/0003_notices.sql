-- socred schema, version 3: notices. A notice is kept with its subject and,
-- while pending, waits for delivery. Keyed and hash-partitioned by subject
-- like checks; the partial index finds the pending ones in id order.

CREATE TABLE notices (
	id      BIGSERIAL,
	subject TEXT NOT NULL,
	at      BIGINT NOT NULL,
	body    BYTEA NOT NULL, -- JSON, socred.Notice
	pending BOOLEAN NOT NULL,
	PRIMARY KEY (subject, id)
) PARTITION BY HASH (subject);
CREATE TABLE notices_0 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 0);
CREATE TABLE notices_1 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 1);
CREATE TABLE notices_2 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 2);
CREATE TABLE notices_3 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 3);
CREATE TABLE notices_4 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 4);
CREATE TABLE notices_5 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 5);
CREATE TABLE notices_6 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 6);
CREATE TABLE notices_7 PARTITION OF notices FOR VALUES WITH (MODULUS 8, REMAINDER 7);
CREATE INDEX notices_pending ON notices (id) WHERE pending;
