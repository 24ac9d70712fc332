-- socred schema, version 14: the authority that registered each subject
-- ('' for the admin, and for subjects registered before this version);
-- only it and the admin may change the subject, its relations and contact.
ALTER TABLE subjects ADD COLUMN registered_by TEXT NOT NULL DEFAULT '';
