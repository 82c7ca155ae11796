-- Outreach lists and what came of them.
CREATE TABLE IF NOT EXISTS outreach_lists (
    practice_id VARCHAR NOT NULL,
    quarter VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    list_kind VARCHAR NOT NULL,          -- outreach | baseline
    inclusion VARCHAR NOT NULL,          -- nieuw | niet_bereikt | geen_uitkomst | doorgeschoven | baseline
    rank INTEGER NOT NULL,               -- 1 = call first
    listed BOOLEAN NOT NULL,             -- within this quarter's capacity; false = rolls to next quarter
    predicted_risk DOUBLE,               -- from the risk model, when one was available
    model_version VARCHAR,
    score INTEGER NOT NULL,
    age INTEGER NOT NULL,
    sex VARCHAR NOT NULL,
    reasons VARCHAR NOT NULL,            -- the characteristics that hold, in plain Dutch
    next_steps VARCHAR NOT NULL,
    notes VARCHAR NOT NULL,              -- profile notes (never scored), e.g. heavy reliever use
    first_crossed_quarter VARCHAR,
    earlier_attempts INTEGER NOT NULL,   -- earlier listings without reaching the patient
    created_at TIMESTAMP NOT NULL
);

-- Per reason the record behind it, and the patient's earlier quarters (sql/outreach/evidence.sql)
ALTER TABLE outreach_lists ADD COLUMN IF NOT EXISTS evidence VARCHAR;
ALTER TABLE outreach_lists ADD COLUMN IF NOT EXISTS history VARCHAR;

-- Outcomes handed back by the practice (omu outcomes import), one per list row.
CREATE TABLE IF NOT EXISTS outreach_outcomes (
    practice_id VARCHAR NOT NULL,
    quarter VARCHAR NOT NULL,            -- the quarter of the list the patient was on
    patient_id VARCHAR NOT NULL,
    outcome VARCHAR NOT NULL,            -- clinical/reference/outcomes.csv (checked on import)
    referral_target VARCHAR,             -- clinical/reference/referral_targets.csv (checked on import)
    outcome_date DATE,
    note VARCHAR,
    imported_at TIMESTAMP NOT NULL,
    source_file VARCHAR NOT NULL
);
-- The profile whose list the outcome belongs to (stores from before profiles ran side by side
-- held omu-basis v1 only, hence the defaults for their rows).
ALTER TABLE outreach_outcomes ADD COLUMN IF NOT EXISTS profile_name VARCHAR DEFAULT 'omu-basis';
ALTER TABLE outreach_outcomes ADD COLUMN IF NOT EXISTS profile_version INTEGER DEFAULT 1;

-- Predicted risk per patient (the risk model's asset writes it; empty until a model exists).
CREATE TABLE IF NOT EXISTS risk_scores (
    practice_id VARCHAR NOT NULL,
    quarter VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    predicted_risk DOUBLE NOT NULL,
    model_name VARCHAR NOT NULL,
    model_version VARCHAR NOT NULL,
    scored_at TIMESTAMP NOT NULL
);
