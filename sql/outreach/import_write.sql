-- Store checked outcomes: new rows are added, changed rows replace the earlier outcome,
-- identical rows change nothing (importing the same file twice changes nothing).
-- Variable: source_file. Run in one transaction.
DELETE FROM outreach_outcomes AS o
WHERE EXISTS (SELECT 1 FROM import_ready AS r WHERE r.is_changed AND r.practice_id = o.practice_id
              AND r.quarter = o.quarter AND r.patient_id = o.patient_id
              AND r.profile_name = o.profile_name AND r.profile_version = o.profile_version);
INSERT INTO outreach_outcomes BY NAME
SELECT practice_id, quarter, patient_id, profile_name, profile_version, outcome, referral_target, outcome_date, note,
       current_timestamp AS imported_at, getvariable('source_file') AS source_file
FROM import_ready WHERE is_new OR is_changed;
