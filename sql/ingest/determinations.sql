-- determinations.csv (NHG-Tabel 45). Input: raw_determinations, accepted_patients.
-- Output: checked_determinations; value stays text as registered, value_number is the number
-- when it is one (decimal comma allowed).
CREATE OR REPLACE TEMP TABLE typed_determinations AS
SELECT
    line,
    patient_id,
    omu_int(code)::INTEGER AS code,
    omu_date(measured_on) AS measured_on,
    value,
    omu_number(value) AS value_number,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('code', code),
        omu_check_int('code', code, 0, 2147483647),
        omu_missing('measured_on', measured_on),
        omu_check_date('measured_on', measured_on),
        omu_missing('value', value)
    ]) AS problems
FROM raw_determinations;

CREATE OR REPLACE TEMP TABLE checked_determinations AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_determinations');

CREATE OR REPLACE TEMP TABLE accepted_determinations AS
SELECT * EXCLUDE (problems) FROM checked_determinations WHERE len(problems) = 0;
