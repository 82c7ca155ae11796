-- Store checked outcomes: new rows are added, changed rows replace the earlier outcome,
-- identical rows change nothing (importing the same file twice changes nothing).
-- Variable: source_file. Run in one transaction.
DELETE FROM outreach_outcomes AS o
WHERE EXISTS (SELECT 1 FROM import_ready AS r WHERE r.is_changed AND r.practice_id = o.practice_id
              AND r.quarter = o.quarter AND r.patient_id = o.patient_id);
INSERT INTO outreach_outcomes
SELECT practice_id, quarter, patient_id, outcome, referral_target, outcome_date, note, current_timestamp,
       getvariable('source_file')
FROM import_ready WHERE is_new OR is_changed;
