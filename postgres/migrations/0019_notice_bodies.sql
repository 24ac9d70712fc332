-- socred schema, version 19: a notice's body leaves out what it says twice
-- (socred.EncodeNotice): an event's time, but for the microseconds by which
-- it follows the notice's, and the sentences of its message that describe
-- its events, which are made again from the events when it is read. The
-- bodies stored before are read as they were; a build that knows only
-- version 18 would read the new ones without those sentences, so the
-- version number keeps it from opening the database.
COMMENT ON COLUMN notices.body IS 'JSON, socred.EncodeNotice: the message whole, or its lead, or neither, beside the events that make the rest';
