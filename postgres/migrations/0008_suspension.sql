-- socred schema, version 8: an appeal not decided by its review_due
-- suspends the entry's effect until it is decided.

ALTER TABLE appeals ADD COLUMN suspended_at BIGINT;
ALTER TABLE records ADD COLUMN suspended_at BIGINT;
CREATE INDEX appeals_due ON appeals (review_due) WHERE status = 'open' AND suspended_at IS NULL;
