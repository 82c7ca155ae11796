-- Workload per practice and list quarter, exact (suppressed in Python before anything is shown):
-- calls asked for (every candidate), listed within capacity, backlog rolled to the next quarter, and
-- listed patients contacted within the working quarter (as in sql/evaluation/feedback.sql).
-- Variables: quarter, profile_name, profile_version.
SELECT l.practice_id, l.quarter,
       count(*) AS asked,
       count(*) FILTER (WHERE l.listed) AS listed,
       count(*) FILTER (WHERE NOT l.listed) AS backlog,
       count(*) FILTER (WHERE l.listed AND list_contains(getvariable('contact_outcomes'), o.outcome)
                        AND o.outcome_date <= omu_quarter_end(omu_quarter_label(omu_quarter_index(l.quarter) + 1)))
           AS contacted_in_quarter
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id)
WHERE l.list_kind = 'outreach' AND l.quarter <= getvariable('quarter')
  AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
GROUP BY l.practice_id, l.quarter
ORDER BY l.practice_id, l.quarter;
