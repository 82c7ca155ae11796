-- episodes.csv (ICPC-1). Input: raw_episodes, accepted_patients. Output: checked_episodes.
CREATE OR REPLACE TEMP TABLE typed_episodes AS
SELECT
    line,
    patient_id,
    icpc,
    omu_date(start_date) AS start_date,
    omu_date(end_date) AS end_date,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('icpc', icpc),
        omu_check_pattern('icpc', icpc, getvariable('icpc_pattern'), 'ICPC, e.g. R96 or F94.01'),
        omu_missing('start_date', start_date),
        omu_check_date('start_date', start_date),
        omu_check_date('end_date', end_date),
        CASE WHEN omu_date(end_date) < omu_date(start_date)
             THEN omu_problem('end_date', end_date, 'end_date before start_date') END
    ]) AS problems
FROM raw_episodes;

CREATE OR REPLACE TEMP TABLE checked_episodes AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_episodes');

CREATE OR REPLACE TEMP TABLE accepted_episodes AS
SELECT * EXCLUDE (problems) FROM checked_episodes WHERE len(problems) = 0;
