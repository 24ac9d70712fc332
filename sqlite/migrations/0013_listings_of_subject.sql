-- socred schema, version 13: a subject's listings, current and past, by
-- subject (the file shows the entries a subject held and left).
CREATE INDEX listings_of_subject ON listings (subject, since);
