-- prescriptions.csv (ATC). Input: raw_prescriptions, accepted_patients. Output: checked_prescriptions.
CREATE OR REPLACE TEMP TABLE typed_prescriptions AS
SELECT
    line,
    patient_id,
    atc,
    omu_date(prescribed_on) AS prescribed_on,
    omu_number(quantity) AS quantity,
    omu_int(duration_days)::INTEGER AS duration_days,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('atc', atc),
        omu_check_pattern('atc', atc, getvariable('atc_pattern'), 'ATC, e.g. C07AB02'),
        omu_missing('prescribed_on', prescribed_on),
        omu_check_date('prescribed_on', prescribed_on),
        omu_check_number('quantity', quantity),
        omu_check_int('duration_days', duration_days, 0, 100000)
    ]) AS problems
FROM raw_prescriptions;

CREATE OR REPLACE TEMP TABLE checked_prescriptions AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_prescriptions');

CREATE OR REPLACE TEMP TABLE accepted_prescriptions AS
SELECT * EXCLUDE (problems) FROM checked_prescriptions WHERE len(problems) = 0;
