-- The cohort of the outcome-after-outreach evaluation, up to the evaluation's quarter Q.
-- One row per listed patient: the index quarter L is the first list (within capacity) the patient
-- was on; the group is what came of the outreach in the end: the evaluation_group
-- (clinical/reference/outcomes.csv) of its final outcome before any other (bereikt or verwezen =
-- bereikt, afgezien, niet_bereikt; al_in_zorg and no outcome are left out of the comparison). Covariates are those on the first list: predicted risk (when the model scored it),
-- score, age, sex. The outcome window is (R_L, R_L + window_days], R_L = L's last day, read (by
-- sql/model/outcome.sql) from the practice's latest delivery up to Q extracted after the window
-- ended, and only for patients in that delivery. Patients whose window has not passed are not in
-- `population` (yet).
-- Variables: quarter, profile_name, profile_version, window_days, compared_groups (the groups the
-- evaluation compares, omu/evaluation/outcome.py), the outcome vocabulary.
-- Needs: model_codes.
CREATE OR REPLACE TEMP TABLE eval_cohort AS
SELECT l.practice_id, l.patient_id,
       min(l.quarter) AS index_quarter,
       arg_min(l.predicted_risk, l.quarter) AS predicted_risk,
       arg_min(l.score, l.quarter) AS score,
       arg_min(l.age, l.quarter) AS age,
       arg_min(l.sex, l.quarter) AS sex,
       -- a final outcome before a not-final one, a reached one first (bereikt before afgezien)
       coalesce(arg_max(getvariable('outcome_evaluation_groups')[o.outcome],
                        (list_contains(getvariable('final_outcomes'), o.outcome),
                         list_contains(getvariable('reached_outcomes'), o.outcome),
                         getvariable('outcome_evaluation_groups')[o.outcome]))
                    FILTER (WHERE o.outcome IS NOT NULL),
                'geen_uitkomst') AS outreach_group
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id)
WHERE l.list_kind = 'outreach' AND l.listed AND l.quarter <= getvariable('quarter')
  AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
GROUP BY l.practice_id, l.patient_id;

CREATE OR REPLACE TEMP TABLE population AS
SELECT c.practice_id, c.index_quarter AS quarter, c.patient_id, d.source_quarter,
       omu_quarter_end(c.index_quarter) AS reference_date
FROM eval_cohort AS c
JOIN (SELECT practice_id, quarter AS source_quarter, coalesce(extracted_on, omu_quarter_end(quarter)) AS observed_until
      FROM current_deliveries WHERE quarter <= getvariable('quarter')) AS d
  ON d.practice_id = c.practice_id
 AND d.observed_until >= omu_quarter_end(c.index_quarter) + getvariable('window_days')::INTEGER
JOIN patients AS p
  ON p.practice_id = c.practice_id AND p.quarter = d.source_quarter AND p.patient_id = c.patient_id
WHERE list_contains(getvariable('compared_groups'), c.outreach_group)
QUALIFY row_number() OVER (PARTITION BY c.practice_id, c.patient_id ORDER BY d.source_quarter DESC) = 1;
