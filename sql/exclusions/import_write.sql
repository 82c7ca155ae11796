-- Store checked exclusions with who and when (run in one transaction). A patient with bezwaar
-- leaves everything derived from their data: their score history and predicted risks are removed
-- (the screening leaves them out from now on, so no aggregate counts them again).
-- Variables: recorded_by, source_file. Input: exclusion_ready.
INSERT INTO exclusions
SELECT practice_id, patient_id, reason, until, getvariable('recorded_by'), current_timestamp,
       getvariable('source_file')
FROM exclusion_ready WHERE is_change;

DELETE FROM score_history AS h
WHERE EXISTS (SELECT 1 FROM exclusion_ready AS r WHERE r.is_change AND r.reason = 'bezwaar'
              AND r.practice_id = h.practice_id AND r.patient_id = h.patient_id);
DELETE FROM risk_scores AS s
WHERE EXISTS (SELECT 1 FROM exclusion_ready AS r WHERE r.is_change AND r.reason = 'bezwaar'
              AND r.practice_id = s.practice_id AND r.patient_id = s.patient_id);
