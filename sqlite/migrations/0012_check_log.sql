-- socred schema, version 12: the check log (sqlite/checklog.go). The
-- database keeps the number of the last group of checks it holds, so that
-- a restarted store copies in the groups it lacks.
INSERT INTO meta (key, value) VALUES ('check_log_seq', 0);
