-- Check handed-back outcomes before any is stored. Input: incoming(row_no, practice_id, quarter,
-- patient_id, outcome, referral_target, outcome_date, note, profile) as text, row_no = the row in
-- the file (header = 1). Variable: practice (from --practice, or NULL); the vocabularies outcomes,
-- referred_outcomes (those that take a referral target) and referral_targets (omu/reference.py).
-- The profile comes from the file itself (column Profiel, "omu-basis v1"); a file without it
-- belongs to the one profile whose list holds the patient (several: refused, name the profile).
-- Needs sql/common/handback.sql (the checks every handed-back file shares) and sql/common/identifiers.sql (omu/ingest/identifiers.py): a note that looks like a direct
-- identifier refuses the file, and no problem shows a value that looks like one.
-- Output: import_problems(row_no, "column", value, problem) and import_ready (the good rows).
CREATE OR REPLACE TEMP TABLE incoming_read AS
SELECT row_no,
       nullif(trim(profile), '') AS profile_text,
       nullif(regexp_extract(trim(profile), '^(\S+)\s+v([0-9]+)$', 1), '') AS profile_name_given,
       try_cast(nullif(regexp_extract(trim(profile), '^(\S+)\s+v([0-9]+)$', 2), '') AS INTEGER)
           AS profile_version_given,
       omu_handback_practice(practice_id) AS practice_id,
       upper(trim(quarter)) AS quarter,
       trim(patient_id) AS patient_id,
       omu_handback_code(outcome) AS outcome,
       omu_handback_code(referral_target) AS referral_target,
       trim(outcome_date) AS outcome_date_text,
       omu_handback_date(outcome_date) AS outcome_date,
       nullif(trim(note), '') AS note
FROM incoming
-- a row the POH left without an outcome (and without anything else to record) is skipped
WHERE nullif(trim(outcome), '') IS NOT NULL
   OR nullif(trim(referral_target), '') IS NOT NULL OR nullif(trim(outcome_date), '') IS NOT NULL;

CREATE OR REPLACE TEMP TABLE incoming_normalised AS
SELECT i.*,
       coalesce(i.profile_name_given, l.profile_name) AS profile_name,
       coalesce(i.profile_version_given, l.profile_version) AS profile_version,
       coalesce(l.profiles, 0) AS listed_profiles
FROM incoming_read AS i
LEFT JOIN (SELECT practice_id, quarter, patient_id, count(DISTINCT (profile_name, profile_version)) AS profiles,
                  min(profile_name) AS profile_name, min(profile_version) AS profile_version
           FROM outreach_lists GROUP BY ALL) AS l
  ON i.profile_text IS NULL AND l.practice_id = i.practice_id AND l.quarter = i.quarter AND l.patient_id = i.patient_id;

CREATE OR REPLACE TEMP TABLE import_problems AS
SELECT row_no, "column", CASE WHEN omu_identifier_kind(value, 'text') IS NULL THEN value END AS value, problem
FROM (
    SELECT * FROM omu_handback_practice_problems('incoming_normalised', 'outcomes')
    UNION ALL
    SELECT row_no, 'quarter', quarter, 'not a quarter like 2026Q3'
    FROM incoming_normalised WHERE quarter IS NULL OR NOT regexp_full_match(quarter, '[0-9]{4}Q[1-4]')
    UNION ALL
    SELECT row_no, 'patient_id', patient_id, 'missing patient_id' FROM incoming_normalised WHERE patient_id IS NULL
    UNION ALL
    SELECT row_no, 'profile', profile_text, 'not a screening profile like omu-basis v1'
    FROM incoming_normalised WHERE profile_text IS NOT NULL AND profile_version_given IS NULL
    UNION ALL
    SELECT row_no, 'profile', NULL,
           'the patient is on the lists of ' || listed_profiles || ' profiles: add the column Profiel (e.g. omu-basis v1)'
    FROM incoming_normalised WHERE profile_text IS NULL AND listed_profiles > 1
    UNION ALL
    SELECT row_no, 'profile', profile_text,
           'one file holds the outcomes of one profile''s list (first row: ' || first_profile || ')'
    FROM (SELECT *, first_value(profile_name || ' v' || profile_version) OVER (ORDER BY row_no ROWS BETWEEN
                 UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first_profile FROM incoming_normalised)
    WHERE profile_name || ' v' || profile_version <> first_profile
    UNION ALL
    SELECT i.row_no, 'patient_id', i.patient_id,
           'unknown patient: not on the list of practice ' || i.practice_id || ' for ' || i.quarter
           || coalesce(' (profile ' || i.profile_text || ')', '')
    FROM incoming_normalised AS i
    WHERE i.patient_id IS NOT NULL AND i.practice_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM outreach_lists AS l
        WHERE l.practice_id = i.practice_id AND l.quarter = i.quarter AND l.patient_id = i.patient_id
          AND (i.profile_text IS NULL OR (l.profile_name = i.profile_name AND l.profile_version = i.profile_version)))
    UNION ALL
    SELECT row_no, 'outcome', outcome,
           omu_handback_unknown(outcome, getvariable('outcomes'), CASE WHEN outcome IS NULL THEN 'missing outcome' ELSE 'unknown outcome' END)
    FROM incoming_normalised WHERE omu_handback_unknown(outcome, getvariable('outcomes'), '') IS NOT NULL
    UNION ALL
    SELECT row_no, 'referral_target', referral_target,
           outcome || ' needs a referral target (' || array_to_string(getvariable('referral_targets'), ', ') || ')'
    FROM incoming_normalised
    WHERE list_contains(getvariable('referred_outcomes'), outcome) AND referral_target IS NULL
    UNION ALL
    SELECT row_no, 'referral_target', referral_target,
           omu_handback_unknown(referral_target, getvariable('referral_targets'), 'unknown referral target')
    FROM incoming_normalised
    WHERE referral_target IS NOT NULL
      AND omu_handback_unknown(referral_target, getvariable('referral_targets'), '') IS NOT NULL
    UNION ALL
    SELECT row_no, 'referral_target', referral_target,
           'a referral target belongs to the outcome ' || array_to_string(getvariable('referred_outcomes'), ' or ')
           || ' only'
    FROM incoming_normalised
    WHERE referral_target IS NOT NULL AND outcome IS NOT NULL
      AND NOT list_contains(getvariable('referred_outcomes'), outcome)
    UNION ALL
    SELECT row_no, 'outcome_date', outcome_date_text, omu_handback_date_problem(outcome_date_text, outcome_date, false)
    FROM incoming_normalised WHERE omu_handback_date_problem(outcome_date_text, outcome_date, false) IS NOT NULL
    UNION ALL
    SELECT row_no, 'patient_id', patient_id, 'the same patient appears twice for this quarter'
    FROM (SELECT *, count(*) OVER (PARTITION BY practice_id, quarter, patient_id) AS n FROM incoming_normalised)
    WHERE n > 1 AND patient_id IS NOT NULL
    UNION ALL
    -- the note is free text; it is stored, so it must hold no direct identifier (value not shown)
    SELECT row_no, 'note', NULL, 'looks like ' || omu_identifier_kind(note, 'text')
           || ', a direct identifier (value not shown): omu stores no direct identifiers; remove it and import again'
    FROM incoming_normalised WHERE omu_identifier_kind(note, 'text') IS NOT NULL
)
ORDER BY row_no, "column";

CREATE OR REPLACE TEMP TABLE import_ready AS
SELECT i.practice_id, i.quarter, i.patient_id, i.profile_name, i.profile_version, i.outcome, i.referral_target,
       i.outcome_date, i.note,
       e.patient_id IS NULL AS is_new,
       e.patient_id IS NOT NULL AND (e.outcome IS DISTINCT FROM i.outcome
            OR e.referral_target IS DISTINCT FROM i.referral_target OR e.outcome_date IS DISTINCT FROM i.outcome_date
            OR e.note IS DISTINCT FROM i.note) AS is_changed
FROM incoming_normalised AS i
LEFT JOIN outreach_outcomes AS e USING (practice_id, quarter, patient_id, profile_name, profile_version);
