-- Every row of the set-aside outreach_outcomes back into the new table (see migrate_outcomes.sql).
INSERT INTO outreach_outcomes BY NAME SELECT * FROM outreach_outcomes_before;
DROP TABLE outreach_outcomes_before;
