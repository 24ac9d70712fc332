-- socred schema, version 20: a notice's body leaves out what it says twice
-- (socred.EncodeNotice): an event's time, but for the microseconds by which
-- it follows the notice's, and the sentences of its message that describe
-- its events, which are made again from the events when it is read. The
-- bodies stored before are read as they were; a build that knows only
-- version 19 would read the new ones without those sentences, so the
-- version number keeps it from opening the database.
-- SQLite has no comments on columns, and a migration runs at least one
-- statement: this one changes no row.
UPDATE notices SET body = body WHERE 0;
