-- Check follow-ups of referrals (did the referral arrive?) before any is stored.
-- Input: incoming_followups(row_no, sheet, practice_id, quarter, patient_id, arrived, arrived_on) as
-- text; handed_back_outcomes(practice_id, quarter, patient_id, outcome): the outcomes of the same
-- file as sql/outreach/import_check.sql checked them (a referral may be handed back in the same file).
-- Variables: practice (from --practice, or NULL), referred_outcomes, answers (ja, nee, onbekend).
-- Needs sql/common/handback.sql.
-- Output: followup_problems(row_no, sheet, "column", value, problem) and followup_ready.
CREATE OR REPLACE TEMP TABLE followups_normalised AS
SELECT row_no, sheet,
       omu_handback_practice(practice_id) AS practice_id,
       upper(trim(quarter)) AS quarter,
       trim(patient_id) AS patient_id,
       omu_handback_code(arrived) AS arrived,
       nullif(trim(arrived_on), '') AS arrived_on_text,
       omu_handback_date(arrived_on) AS arrived_on
FROM incoming_followups
-- a row without an answer is not a follow-up (yet)
WHERE nullif(trim(arrived), '') IS NOT NULL OR nullif(trim(arrived_on), '') IS NOT NULL;

-- the referrals a follow-up may be about: stored, or handed back in this very file
CREATE OR REPLACE TEMP TABLE followup_referrals AS
SELECT practice_id, quarter, patient_id FROM outreach_outcomes AS o
WHERE list_contains(getvariable('referred_outcomes'), o.outcome)
  AND NOT EXISTS (SELECT 1 FROM handed_back_outcomes AS r WHERE r.practice_id = o.practice_id AND r.quarter = o.quarter
                  AND r.patient_id = o.patient_id AND NOT list_contains(getvariable('referred_outcomes'), r.outcome))
UNION
SELECT practice_id, quarter, patient_id FROM handed_back_outcomes WHERE list_contains(getvariable('referred_outcomes'), outcome);

CREATE OR REPLACE TEMP TABLE followup_problems AS
SELECT row_no, sheet, "column", value, problem FROM (
    SELECT row_no, sheet, 'arrived' AS "column", arrived AS value,
           omu_handback_unknown(arrived, getvariable('answers'), 'unknown answer') AS problem
    FROM followups_normalised WHERE omu_handback_unknown(arrived, getvariable('answers'), '') IS NOT NULL
    UNION ALL
    SELECT row_no, sheet, 'practice_id', practice_id, 'wrong practice: this import is for practice '
           || getvariable('practice')
    FROM followups_normalised WHERE getvariable('practice') IS NOT NULL AND practice_id <> getvariable('practice')
    UNION ALL
    SELECT f.row_no, f.sheet, 'patient_id', f.patient_id,
           'no referral to follow up: not referred (' || array_to_string(getvariable('referred_outcomes'), ', ')
           || ') on the list of practice ' || coalesce(f.practice_id, '?')
           || ' for ' || coalesce(f.quarter, '?')
    FROM followups_normalised AS f
    WHERE NOT EXISTS (SELECT 1 FROM followup_referrals AS r WHERE r.practice_id = f.practice_id
                      AND r.quarter = f.quarter AND r.patient_id = f.patient_id)
    UNION ALL
    SELECT row_no, sheet, 'arrived_on', arrived_on_text, omu_handback_date_problem(arrived_on_text, arrived_on, false)
    FROM followups_normalised WHERE omu_handback_date_problem(arrived_on_text, arrived_on, false) IS NOT NULL
    UNION ALL
    SELECT row_no, sheet, 'arrived_on', arrived_on_text, 'ja needs the date the patient arrived'
    FROM followups_normalised WHERE arrived = 'ja' AND arrived_on_text IS NULL
    UNION ALL
    SELECT row_no, sheet, 'patient_id', patient_id, 'the same referral is followed up twice in this file'
    FROM (SELECT *, count(*) OVER (PARTITION BY practice_id, quarter, patient_id) AS n FROM followups_normalised)
    WHERE n > 1
)
ORDER BY sheet, row_no, "column";

CREATE OR REPLACE TEMP TABLE followup_ready AS
SELECT f.practice_id, f.quarter, f.patient_id, f.arrived, f.arrived_on,
       e.patient_id IS NULL AS is_new,
       e.patient_id IS NOT NULL AND (e.arrived IS DISTINCT FROM f.arrived
                                     OR e.arrived_on IS DISTINCT FROM f.arrived_on) AS is_changed
FROM followups_normalised AS f
LEFT JOIN referral_followups AS e USING (practice_id, quarter, patient_id);
