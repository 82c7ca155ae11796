-- patients.csv: type every value, name every problem. Input: raw_patients (text + line).
-- Output: checked_patients (typed columns + problems); rows with no problems are loaded.
CREATE OR REPLACE TEMP TABLE typed_patients AS
SELECT
    line,
    patient_id,
    omu_int(birth_year)::INTEGER AS birth_year,
    omu_int(birth_month)::INTEGER AS birth_month,
    omu_sex(sex) AS sex,
    wijk_code,
    pc4,
    omu_date(registered_from) AS registered_from,
    omu_date(registered_until) AS registered_until,
    lower(end_reason) AS end_reason,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_pattern('patient_id', patient_id, getvariable('patient_id_pattern'),
                          'a pseudonym of 8-64 characters A-Z a-z 0-9 _ -'),
        omu_missing('birth_year', birth_year),
        omu_check_int('birth_year', birth_year, 1900, year(getvariable('extracted_on'))),
        omu_check_int('birth_month', birth_month, 1, 12),
        omu_missing('sex', sex),
        omu_check_in('sex', omu_sex(sex), getvariable('sexes')),
        omu_missing('wijk_code', wijk_code),
        omu_check_pattern('wijk_code', wijk_code, getvariable('wijk_code_pattern'), 'WK + 6 digits'),
        omu_check_pattern('pc4', pc4, getvariable('pc4_pattern'), '4 digits'),
        omu_missing('registered_from', registered_from),
        omu_check_date('registered_from', registered_from),
        omu_check_date('registered_until', registered_until),
        CASE WHEN omu_date(registered_until) < omu_date(registered_from)
             THEN omu_problem('registered_until', registered_until, 'registered_until before registered_from') END,
        omu_check_in('end_reason', lower(end_reason), getvariable('end_reasons'))
    ]) AS problems
FROM raw_patients;

CREATE OR REPLACE TEMP TABLE checked_patients AS
SELECT * EXCLUDE (copy_no, versions) REPLACE (
    CASE WHEN copy_no = 1 AND versions > 1
         THEN list_append(problems, omu_problem('patient_id', patient_id, 'patient_id not unique in patients.csv'))
         ELSE problems END AS problems)
FROM (
    -- distinct versions of one patient_id; duplicates are one version
    SELECT *, count(*) FILTER (WHERE copy_no = 1) OVER (PARTITION BY patient_id) AS versions
    FROM omu_flag_duplicates('typed_patients')
);

-- The patients that load; the other files may only refer to these.
CREATE OR REPLACE TEMP TABLE accepted_patients AS
SELECT * EXCLUDE (problems) FROM checked_patients WHERE len(problems) = 0;

-- Rows of the other files must belong to a patient that loads (one definition of the check).
CREATE OR REPLACE TEMP MACRO omu_check_known_patient(pid) AS
    CASE WHEN pid NOT IN (SELECT patient_id FROM accepted_patients)
         THEN omu_problem('patient_id', pid, 'unknown patient_id (not loaded from patients.csv)') END;
