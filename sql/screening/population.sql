-- The population on each reference date of the work: patients registered at the practice on
-- that date (registered_from <= date, registered_until empty or after it), read from the
-- delivery the plan names. Age in completed years: reference year - birth_year, minus 1 when
-- birth_month is given and lies after the reference month. Patients with bezwaar are left out.
-- Input: screen_work (practice_id, quarter, source_quarter, backfilled, reference_date).
CREATE OR REPLACE TEMP TABLE population AS
SELECT
    w.practice_id, w.quarter, w.source_quarter, w.backfilled, w.reference_date,
    p.patient_id, p.sex, p.wijk_code,
    (year(w.reference_date) - p.birth_year
        - CASE WHEN p.birth_month > month(w.reference_date) THEN 1 ELSE 0 END)::INTEGER AS age
FROM screen_work AS w
JOIN patients AS p ON p.practice_id = w.practice_id AND p.quarter = w.source_quarter
WHERE p.registered_from <= w.reference_date
  AND (p.registered_until IS NULL OR p.registered_until > w.reference_date)
  -- a patient who objects to the use of their data (bezwaar) is not screened at all
  AND NOT EXISTS (SELECT 1 FROM current_exclusions AS x
                  WHERE x.practice_id = p.practice_id AND x.patient_id = p.patient_id AND x.reason = 'bezwaar');

CREATE OR REPLACE TEMP TABLE criterion_hits (
    practice_id VARCHAR, quarter VARCHAR, patient_id VARCHAR, characteristic VARCHAR, criterion_no INTEGER
);
-- The records behind each hit (sql/screening/keep_evidence.sql): the same rows the criterion
-- counted, so a list's evidence is exactly what made the flag true.
CREATE OR REPLACE TEMP TABLE criterion_evidence (
    practice_id VARCHAR, quarter VARCHAR, patient_id VARCHAR, characteristic VARCHAR, criterion_no INTEGER,
    record VARCHAR,      -- age | episode | prescription | determination | contact
    code VARCHAR,        -- age in years, ICPC, ATC, determination code, contact kind
    value VARCHAR,       -- the determination's answer
    date DATE,           -- start, prescribed, measured or contact date
    until DATE,          -- an episode's end
    quantity DOUBLE,     -- a prescription's quantity
    line BIGINT          -- the record's line in its delivery file (tells two equal records apart)
);
