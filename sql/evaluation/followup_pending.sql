-- Referred patients of one practice, on a list before this quarter, whose arrival is still unknown
-- (no follow-up, or the answer onbekend): the follow-up sheet of this quarter's outreach.xlsx.
-- Variables: practice_id, quarter, referred_outcomes.
SELECT o.patient_id, o.quarter, o.referral_target, o.outcome_date, f.arrived
FROM outreach_outcomes AS o
LEFT JOIN referral_followups AS f USING (practice_id, quarter, patient_id)
WHERE o.practice_id = getvariable('practice_id') AND o.quarter < getvariable('quarter')
  AND list_contains(getvariable('referred_outcomes'), o.outcome) AND coalesce(f.arrived, 'onbekend') = 'onbekend'
ORDER BY o.quarter, o.outcome_date NULLS LAST, o.patient_id;
