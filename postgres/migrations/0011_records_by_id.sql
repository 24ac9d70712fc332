-- socred schema, version 11: the newest records across subjects, for the
-- operators' console. The records' key, (subject, id), cannot give them in
-- id order, so every read sorted all the records (2.7 s for the newest 50
-- of 10,000,000); an index on id lets PostgreSQL merge the partitions'
-- newest instead (about 1 ms). Made on the partitioned parent, it is made
-- on every partition; ids grow, so records append at its right edge.

CREATE INDEX records_id ON records (id);
