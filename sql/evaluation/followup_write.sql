-- Store checked follow-ups (followup_ready: sql/evaluation/followup_check.sql's, registered by the
-- import right before), like outcomes: new rows are
-- added, a changed answer replaces the earlier one, the same file twice changes nothing.
-- Variable: source_file. Run in the import's transaction.
DELETE FROM referral_followups AS f
WHERE EXISTS (SELECT 1 FROM followup_ready AS r WHERE r.is_changed AND r.practice_id = f.practice_id
              AND r.quarter = f.quarter AND r.patient_id = f.patient_id);
INSERT INTO referral_followups
SELECT practice_id, quarter, patient_id, arrived, arrived_on, current_timestamp, getvariable('source_file')
FROM followup_ready WHERE is_new OR is_changed;
