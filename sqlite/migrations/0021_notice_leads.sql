-- socred schema, version 21: the leads of records' notices, kept once each
-- (socred.NoticeLeads). A record's notice body names its lead by
-- "lead_ref", the lead's id here: the lead without its closing
-- " (record <id>).", which the notice's record makes again. A lead is a
-- reporter, a rule, points, a scheme and a day, the same for every record
-- of theirs that day. The bodies stored before spell their leads out and
-- are read as they were; a build that knows only version 20 could not
-- read the new ones, so the version number keeps it from opening the
-- database.
CREATE TABLE notice_leads (
	id   INTEGER PRIMARY KEY, -- socred's hash of lead
	lead TEXT NOT NULL
);
