-- Check the GP's exclusions before any is stored (omu exclusions import). Input: incoming
-- (row_no, practice_id, patient_id, exclusion, exclusion_until) as text, row_no = the row in the
-- file (header = 1). Variables: practice (from --practice, or NULL), exclusion_values (the
-- reasons and 'opgeheven', from omu.outreach.lists). A row without a reason or date is skipped.
-- Output: exclusion_problems(row_no, "column", value, problem) and exclusion_ready.
CREATE OR REPLACE TEMP TABLE exclusion_incoming AS
SELECT row_no,
       trim(coalesce(practice_id, getvariable('practice'))) AS practice_id,
       trim(patient_id) AS patient_id,
       nullif(replace(lower(trim(exclusion)), ' ', '_'), '') AS reason,
       nullif(trim(exclusion_until), '') AS until_text,
       CASE WHEN regexp_full_match(trim(exclusion_until), '[0-9]{4}-[0-9]{2}-[0-9]{2}')
                 THEN try_strptime(trim(exclusion_until), '%Y-%m-%d')::DATE
            WHEN regexp_full_match(trim(exclusion_until), '[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}')
                 THEN try_strptime(trim(exclusion_until), '%d-%m-%Y')::DATE END AS until
FROM incoming
WHERE nullif(trim(exclusion), '') IS NOT NULL OR nullif(trim(exclusion_until), '') IS NOT NULL;

CREATE OR REPLACE TEMP TABLE exclusion_problems AS
SELECT row_no, "column", value, problem FROM (
    SELECT row_no, 'practice_id' AS "column", practice_id AS value,
           'no practice: add a column Praktijk or pass --practice' AS problem
    FROM exclusion_incoming WHERE practice_id IS NULL
    UNION ALL
    SELECT row_no, 'practice_id', practice_id, 'wrong practice: this import is for practice ' || getvariable('practice')
    FROM exclusion_incoming WHERE getvariable('practice') IS NOT NULL AND practice_id <> getvariable('practice')
    UNION ALL
    SELECT row_no, 'practice_id', practice_id,
           'wrong practice: one file holds the exclusions of one practice (first row: ' || first_practice || ')'
    FROM (SELECT *, first_value(practice_id) OVER (ORDER BY row_no ROWS BETWEEN UNBOUNDED PRECEDING
                                                   AND UNBOUNDED FOLLOWING) AS first_practice
          FROM exclusion_incoming)
    WHERE getvariable('practice') IS NULL AND practice_id <> first_practice
    UNION ALL
    SELECT row_no, 'patient_id', patient_id, 'missing patient_id' FROM exclusion_incoming WHERE patient_id IS NULL
    UNION ALL
    SELECT i.row_no, 'patient_id', i.patient_id, 'unknown patient: in no delivery of practice ' || i.practice_id
    FROM exclusion_incoming AS i
    WHERE i.patient_id IS NOT NULL AND i.practice_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM patients AS p WHERE p.practice_id = i.practice_id AND p.patient_id = i.patient_id)
    UNION ALL
    SELECT row_no, 'exclusion', reason,
           'missing or unknown reason (allowed: ' || array_to_string(getvariable('exclusion_values'), ', ') || ')'
    FROM exclusion_incoming WHERE reason IS NULL OR NOT list_contains(getvariable('exclusion_values'), reason)
    UNION ALL
    SELECT row_no, 'exclusion_until', until_text, 'not a date (dd-mm-jjjj or yyyy-mm-dd)'
    FROM exclusion_incoming WHERE until_text IS NOT NULL AND until IS NULL
    UNION ALL
    SELECT row_no, 'exclusion_until', until_text, 'tijdelijk needs an end date (Uitsluiten tot)'
    FROM exclusion_incoming WHERE reason = 'tijdelijk' AND until_text IS NULL
    UNION ALL
    SELECT row_no, 'exclusion_until', until_text, 'an end date belongs to tijdelijk only'
    FROM exclusion_incoming WHERE reason IS DISTINCT FROM 'tijdelijk' AND until_text IS NOT NULL
    UNION ALL
    SELECT row_no, 'patient_id', patient_id, 'the same patient appears twice'
    FROM (SELECT *, count(*) OVER (PARTITION BY practice_id, patient_id) AS n FROM exclusion_incoming)
    WHERE n > 1 AND patient_id IS NOT NULL
)
ORDER BY row_no, "column";

-- a row equal to the exclusion in force (or lifting nothing) changes nothing
CREATE OR REPLACE TEMP TABLE exclusion_ready AS
SELECT i.practice_id, i.patient_id, i.reason, i.until,
       NOT (c.patient_id IS NOT NULL AND c.reason = i.reason AND c.until IS NOT DISTINCT FROM i.until
            OR c.patient_id IS NULL AND i.reason = 'opgeheven') AS is_change
FROM exclusion_incoming AS i
LEFT JOIN current_exclusions AS c USING (practice_id, patient_id);
