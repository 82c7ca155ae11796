-- Replace the practice-quarters' predicted risks in risk_scores with new_risk_scores, in one
-- transaction (run through run_sql_in_transaction): a re-run never duplicates, and without a
-- model the quarters are left empty so the outreach lists fall back to score order.
-- Variables: practice_ids, quarter. Input: new_risk_scores (practice_id, patient_id,
-- predicted_risk, model_name, model_version).
DELETE FROM risk_scores
WHERE list_contains(getvariable('practice_ids'), practice_id) AND quarter = getvariable('quarter');

INSERT INTO risk_scores (practice_id, quarter, patient_id, predicted_risk, model_name, model_version, scored_at)
SELECT practice_id, getvariable('quarter'), patient_id, predicted_risk, model_name, model_version,
       current_timestamp
FROM new_risk_scores;
