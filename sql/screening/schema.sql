-- Score history: per practice, quarter, patient and profile version, every flag, the score and
-- whether it was at or over the threshold. One boolean column per characteristic id is added
-- by the profile that uses it (ALTER TABLE ... ADD COLUMN), so profiles may add characteristics.
CREATE TABLE IF NOT EXISTS score_history (
    practice_id VARCHAR NOT NULL,
    quarter VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    reference_date DATE NOT NULL,
    source_quarter VARCHAR NOT NULL,  -- the delivery the screening was computed from
    backfilled BOOLEAN NOT NULL,      -- screened from a later delivery (first delivery's backfill)
    age INTEGER NOT NULL,
    sex VARCHAR NOT NULL,
    wijk_code VARCHAR NOT NULL,
    score INTEGER NOT NULL,
    over_threshold BOOLEAN NOT NULL,
    screened_at TIMESTAMP NOT NULL
);

-- The profile behind each screened (practice, quarter): its threshold and characteristics.
CREATE TABLE IF NOT EXISTS screening_profiles (
    profile_name VARCHAR NOT NULL, profile_version INTEGER NOT NULL, characteristic VARCHAR NOT NULL,
    label VARCHAR NOT NULL, weight INTEGER NOT NULL, scored BOOLEAN NOT NULL, threshold INTEGER NOT NULL
);

-- The GP's exclusions per practice (omu exclusions import), kept with who and when; nothing is
-- overwritten: the latest row per patient decides, and reason 'opgeheven' lifts an earlier one.
CREATE TABLE IF NOT EXISTS exclusions (
    practice_id VARCHAR NOT NULL,
    patient_id VARCHAR NOT NULL,
    reason VARCHAR NOT NULL,          -- palliatief | niet_benaderen | bezwaar | tijdelijk | opgeheven
    until DATE,                       -- tijdelijk: the last day it holds
    recorded_by VARCHAR NOT NULL,
    recorded_at TIMESTAMP NOT NULL,
    source_file VARCHAR NOT NULL
);
-- In force now: a patient with bezwaar is not screened at all; any exclusion keeps a patient off
-- the lists of a quarter (tijdelijk: while `until` is on or after the quarter's reference date).
CREATE OR REPLACE VIEW current_exclusions AS
SELECT * FROM (
    SELECT * FROM exclusions
    QUALIFY row_number() OVER (PARTITION BY practice_id, patient_id ORDER BY recorded_at DESC) = 1
)
WHERE reason <> 'opgeheven';
