-- The regional funnel per list quarter, exact (suppressed in Python before anything is shown):
-- crossed (first time over the threshold in a delivered quarter) -> listed -> attempted (an
-- outcome handed back) -> reached (outcomes.csv: reached) -> referred -> arrived, and the
-- contacts and days from the working quarter's first day to the contact (as the practice feedback).
-- Variables: quarter, profile_name, profile_version.
WITH crossed AS (
    SELECT quarter, count(*) FILTER (WHERE first_time) AS crossed FROM screening
    WHERE NOT backfilled AND quarter <= getvariable('quarter')
      AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version')
    GROUP BY quarter
),
listed AS (
    SELECT l.quarter,
           count(*) AS listed,
           count(*) FILTER (WHERE o.outcome IS NOT NULL) AS attempted,
           count(*) FILTER (WHERE list_contains(getvariable('reached_outcomes'), o.outcome)) AS reached,
           count(*) FILTER (WHERE list_contains(getvariable('referred_outcomes'), o.outcome)) AS referred,
           count(*) FILTER (WHERE list_contains(getvariable('referred_outcomes'), o.outcome) AND f.arrived = 'ja') AS arrived,
           count(*) FILTER (WHERE list_contains(getvariable('contact_outcomes'), o.outcome)
                            AND o.outcome_date IS NOT NULL) AS contacts,
           median(o.outcome_date - (omu_quarter_end(l.quarter) + 1))
               FILTER (WHERE list_contains(getvariable('contact_outcomes'), o.outcome)) AS median_days
    FROM outreach_lists AS l
    LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id)
    LEFT JOIN referral_followups AS f USING (practice_id, quarter, patient_id)
    WHERE l.list_kind = 'outreach' AND l.listed AND l.quarter <= getvariable('quarter')
      AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
    GROUP BY l.quarter
)
SELECT c.quarter, c.crossed, coalesce(l.listed, 0) AS listed, coalesce(l.attempted, 0) AS attempted,
       coalesce(l.reached, 0) AS reached, coalesce(l.referred, 0) AS referred, coalesce(l.arrived, 0) AS arrived,
       coalesce(l.contacts, 0) AS contacts, l.median_days
FROM crossed AS c
LEFT JOIN listed AS l USING (quarter)
ORDER BY c.quarter;
