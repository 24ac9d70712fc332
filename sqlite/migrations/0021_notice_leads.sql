-- socred schema, version 21: the leads of records' notices, kept once each
-- (socred.NoticeLeads). A record's notice body names its lead by
-- "lead_ref", the lead's id here, and the day it names by "on": the lead
-- without its closing " about you on <day> (record <id>).", which the
-- notice makes again. A lead is a reporter, a rule, points and a scheme,
-- the same for every record of theirs. The bodies stored before spell
-- their leads out and are read as they were; a build that knows only
-- version 20 could not read the new ones, so the version number keeps it
-- from opening the database.
CREATE TABLE notice_leads (
	id   INTEGER PRIMARY KEY, -- socred's hash of lead
	lead TEXT NOT NULL
);
