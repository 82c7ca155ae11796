-- The published outcome-after-outreach evaluation per quarter (already suppressed): long, one row
-- per part (uitkomst | trechter), key (group or list quarter / cumulatief) and measure.
CREATE TABLE IF NOT EXISTS outreach_evaluation (
    quarter VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    part VARCHAR NOT NULL,
    key VARCHAR NOT NULL,
    measure VARCHAR NOT NULL,   -- n, events, pct_events, hazard_ratio | crossed ... arrived, median_days_to_contact
    value DOUBLE,               -- NULL: not shown
    lower DOUBLE,
    upper DOUBLE,
    computed_at TIMESTAMP NOT NULL
);
