-- contacts.csv (optional file). Input: raw_contacts, accepted_patients. Output: checked_contacts.
CREATE OR REPLACE TEMP TABLE checked_contacts AS
WITH copies AS (
    SELECT *,
        row_number() OVER whole_row AS copy_no,
        min(line) OVER whole_row AS first_line
    FROM raw_contacts
    WINDOW whole_row AS (PARTITION BY patient_id, contact_on, kind ORDER BY line)
)
SELECT
    line,
    patient_id,
    omu_date(contact_on) AS contact_on,
    lower(kind) AS kind,
    omu_problems([
        omu_duplicate(copy_no, first_line),
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('contact_on', contact_on),
        omu_check_date('contact_on', contact_on),
        omu_missing('kind', kind),
        omu_check_in('kind', lower(kind), getvariable('contact_kinds'))
    ]) AS problems
FROM copies;

CREATE OR REPLACE TEMP TABLE accepted_contacts AS
SELECT * EXCLUDE (problems) FROM checked_contacts WHERE len(problems) = 0;
