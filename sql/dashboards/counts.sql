-- Raw counts per quarter and area (region, wijk, practice), long: one row per measure that is
-- not zero. Needs the temp tables of people.sql. Counting happens here; suppression follows in
-- dashboards/indicators.py before anything is stored or written.
WITH events AS (
    SELECT quarter, practice_id, wijk_area, 'registered' AS measure FROM dash_people
    UNION ALL SELECT quarter, practice_id, wijk_area, 'over_threshold' FROM dash_people WHERE over_threshold
    UNION ALL SELECT quarter, practice_id, wijk_area, 'first_time' FROM dash_people WHERE first_time
    UNION ALL SELECT quarter, practice_id, wijk_area, 'baseline' FROM dash_people WHERE baseline
    UNION ALL SELECT quarter, practice_id, wijk_area, 'in_deprived_wijk' FROM dash_people WHERE in_deprived_wijk
    UNION ALL
    SELECT p.quarter, p.practice_id, p.wijk_area, 'char_n:' || f.characteristic
    FROM dash_flags AS f
    JOIN dash_people AS p USING (quarter, practice_id, patient_id)
    WHERE f.holds
    UNION ALL SELECT quarter, practice_id, wijk_area, 'listed' FROM dash_outreach
    UNION ALL
    SELECT quarter, practice_id, wijk_area, 'reached' FROM dash_outreach
    WHERE list_contains(getvariable('reached_outcomes'), outcome)
    UNION ALL
    SELECT quarter, practice_id, wijk_area, 'not_reached' FROM dash_outreach WHERE list_contains(getvariable('not_reached_outcomes'), outcome)
    UNION ALL
    SELECT quarter, practice_id, wijk_area, 'already_in_care' FROM dash_outreach
    WHERE list_contains(getvariable('already_in_care_outcomes'), outcome)
    UNION ALL SELECT quarter, practice_id, wijk_area, 'referred' FROM dash_outreach WHERE list_contains(getvariable('referred_outcomes'), outcome)
    UNION ALL
    SELECT quarter, practice_id, wijk_area, 'referred_to:' || referral_target
    FROM dash_outreach WHERE list_contains(getvariable('referred_outcomes'), outcome) AND referral_target IS NOT NULL
)
SELECT
    quarter,
    omu_area_level(grouping(wijk_area), grouping(practice_id)) AS level,
    coalesce(wijk_area, practice_id, 'REGIO') AS area_code,
    measure,
    count(*) AS n
FROM events
GROUP BY GROUPING SETS ((quarter, measure), (quarter, measure, wijk_area), (quarter, measure, practice_id))
ORDER BY ALL;
