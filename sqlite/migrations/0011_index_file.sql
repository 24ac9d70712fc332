-- socred schema, version 11: the subject indexes of the append-only tables
-- (records, checks, accesses, notices) move to a database file of their
-- own beside this one (<file>-index), so that merging them never holds this
-- file's writer. index_owner pairs this file with its index file: an index
-- file made for another database is rebuilt, not trusted. The tables
-- *_by_subject and the marks *_indexed stay until their rows are copied
-- into the index file, and are then dropped by the store.

INSERT INTO meta (key, value) VALUES ('index_owner', abs(random()));
