-- contacts.csv (optional file). Input: raw_contacts, accepted_patients. Output: checked_contacts.
CREATE OR REPLACE TEMP TABLE typed_contacts AS
SELECT
    line,
    patient_id,
    omu_date(contact_on) AS contact_on,
    lower(kind) AS kind,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('contact_on', contact_on),
        omu_check_date('contact_on', contact_on),
        omu_missing('kind', kind),
        omu_check_in('kind', lower(kind), getvariable('contact_kinds'))
    ]) AS problems
FROM raw_contacts;

CREATE OR REPLACE TEMP TABLE checked_contacts AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_contacts');

CREATE OR REPLACE TEMP TABLE accepted_contacts AS
SELECT * EXCLUDE (problems) FROM checked_contacts WHERE len(problems) = 0;
