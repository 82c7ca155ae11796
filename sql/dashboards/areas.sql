-- Every area of every delivered quarter with its name and the number of practices behind it:
-- the region, all ten wijken of the reference list (also when nobody lives there: 0 is shown),
-- 'OVERIG' when some patients live outside them, and each practice that delivered the quarter.
WITH quarters AS (SELECT DISTINCT quarter FROM dash_people),
practices AS (
    SELECT quarter,
           omu_area_level(grouping(wijk_area), grouping(practice_id)) AS level,
           coalesce(wijk_area, practice_id, 'REGIO') AS area_code,
           count(DISTINCT practice_id) AS practices
    FROM dash_people
    GROUP BY GROUPING SETS ((quarter), (quarter, wijk_area), (quarter, practice_id))
),
areas AS (
    SELECT q.quarter, 'regio' AS level, 'REGIO' AS area_code, 'Regio (alle praktijken)' AS area_name
    FROM quarters AS q
    UNION ALL
    SELECT q.quarter, 'wijk', w.wijk_code, w.wijk_name FROM quarters AS q CROSS JOIN dash_wijken AS w
    UNION ALL
    SELECT DISTINCT quarter, 'wijk', 'OVERIG', 'Buiten de tien wijken of onbekend'
    FROM dash_people WHERE wijk_area = 'OVERIG'
    UNION ALL
    SELECT DISTINCT quarter, 'praktijk', practice_id, 'Praktijk ' || practice_id FROM dash_people
)
SELECT a.quarter, a.level, a.area_code, a.area_name, coalesce(p.practices, 0) AS practices
FROM areas AS a
LEFT JOIN practices AS p USING (quarter, level, area_code)
ORDER BY a.quarter, a.level, a.area_code;
