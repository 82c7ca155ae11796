-- Registered people and people at or over the threshold per ESP2013 age band (0 = 0-4 ..
-- 18 = 90+), per quarter and area: the input of the directly age-standardised rate.
SELECT
    quarter,
    omu_area_level(grouping(wijk_area), grouping(practice_id)) AS level,
    coalesce(wijk_area, practice_id, 'REGIO') AS area_code,
    band,
    count(*) AS population,
    count(*) FILTER (WHERE over_threshold) AS events
FROM dash_people
GROUP BY GROUPING SETS ((quarter, band), (quarter, band, wijk_area), (quarter, band, practice_id))
ORDER BY ALL;
