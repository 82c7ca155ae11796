-- determinations.csv (NHG-Tabel 45). Input: raw_determinations, accepted_patients.
-- Output: checked_determinations; value stays text as registered, value_number is the number
-- when it is one (decimal comma allowed).
CREATE OR REPLACE TEMP TABLE checked_determinations AS
WITH copies AS (
    SELECT *,
        row_number() OVER whole_row AS copy_no,
        min(line) OVER whole_row AS first_line
    FROM raw_determinations
    WINDOW whole_row AS (PARTITION BY patient_id, code, measured_on, value ORDER BY line)
)
SELECT
    line,
    patient_id,
    omu_int(code)::INTEGER AS code,
    omu_date(measured_on) AS measured_on,
    value,
    omu_number(value) AS value_number,
    omu_problems([
        omu_duplicate(copy_no, first_line),
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('code', code),
        omu_check_int('code', code, 0, 2147483647),
        omu_missing('measured_on', measured_on),
        omu_check_date('measured_on', measured_on),
        omu_missing('value', value)
    ]) AS problems
FROM copies;

CREATE OR REPLACE TEMP TABLE accepted_determinations AS
SELECT * EXCLUDE (problems) FROM checked_determinations WHERE len(problems) = 0;
