-- Check the GP's exclusions before any is stored (omu exclusions import). Input: incoming
-- (row_no, practice_id, patient_id, exclusion, exclusion_until) as text, row_no = the row in the
-- file (header = 1). Variables: practice (from --practice, or NULL), exclusion_values (the
-- reasons and 'opgeheven', from omu.outreach.lists). A row without a reason or date is skipped.
-- Needs sql/common/handback.sql (the checks every handed-back file shares).
-- Output: exclusion_problems(row_no, "column", value, problem) and exclusion_ready.
CREATE OR REPLACE TEMP TABLE exclusion_incoming AS
SELECT row_no,
       omu_handback_practice(practice_id) AS practice_id,
       trim(patient_id) AS patient_id,
       omu_handback_code(exclusion) AS reason,
       nullif(trim(exclusion_until), '') AS until_text,
       omu_handback_date(exclusion_until) AS until
FROM incoming
WHERE nullif(trim(exclusion), '') IS NOT NULL OR nullif(trim(exclusion_until), '') IS NOT NULL;

CREATE OR REPLACE TEMP TABLE exclusion_problems AS
SELECT row_no, "column", value, problem FROM (
    SELECT * FROM omu_handback_practice_problems('exclusion_incoming', 'exclusions')
    UNION ALL
    SELECT row_no, 'patient_id', patient_id, 'missing patient_id' FROM exclusion_incoming WHERE patient_id IS NULL
    UNION ALL
    SELECT i.row_no, 'patient_id', i.patient_id, 'unknown patient: in no delivery of practice ' || i.practice_id
    FROM exclusion_incoming AS i
    WHERE i.patient_id IS NOT NULL AND i.practice_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM patients AS p WHERE p.practice_id = i.practice_id AND p.patient_id = i.patient_id)
    UNION ALL
    SELECT row_no, 'exclusion', reason,
           omu_handback_unknown(reason, getvariable('exclusion_values'), 'missing or unknown reason')
    FROM exclusion_incoming WHERE omu_handback_unknown(reason, getvariable('exclusion_values'), '') IS NOT NULL
    UNION ALL
    -- an end date lies in the future, as a rule
    SELECT row_no, 'exclusion_until', until_text, omu_handback_date_problem(until_text, until, true)
    FROM exclusion_incoming WHERE omu_handback_date_problem(until_text, until, true) IS NOT NULL
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
