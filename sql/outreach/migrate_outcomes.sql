-- Once, for a store whose outreach_outcomes still fixes the outcome values or referral targets in
-- a CHECK (the vocabularies live in clinical/reference/): set the table aside, let
-- outreach/schema.sql create it anew, then migrate_outcomes_rows.sql copies every row back.
ALTER TABLE outreach_outcomes RENAME TO outreach_outcomes_before;
