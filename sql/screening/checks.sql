-- Checks of a screening run, over the quarters of the work (screen_work). Each SELECT returns
-- the rows that break a rule; an empty result passes.

-- every patient registered on the reference date (and without bezwaar) screened exactly once
CREATE OR REPLACE TEMP TABLE check_screened_once AS
WITH registered AS (
    SELECT w.practice_id, w.quarter, count(*) AS registered
    FROM screen_work AS w
    JOIN patients AS p ON p.practice_id = w.practice_id AND p.quarter = w.source_quarter
    WHERE p.registered_from <= w.reference_date
      AND (p.registered_until IS NULL OR p.registered_until > w.reference_date)
      AND NOT EXISTS (SELECT 1 FROM current_exclusions AS x WHERE x.practice_id = p.practice_id
                      AND x.patient_id = p.patient_id AND x.reason = 'bezwaar')
    GROUP BY ALL
),
screened AS (
    SELECT h.practice_id, h.quarter, count(*) AS screened, count(DISTINCT h.patient_id) AS distinct_patients
    FROM score_history AS h
    JOIN screen_work AS w USING (practice_id, quarter)
    WHERE h.profile_name = getvariable('profile_name') AND h.profile_version = getvariable('profile_version')
    GROUP BY ALL
)
SELECT r.practice_id, r.quarter, r.registered, coalesce(s.screened, 0) AS screened,
       coalesce(s.distinct_patients, 0) AS distinct_patients
FROM registered AS r LEFT JOIN screened AS s USING (practice_id, quarter)
WHERE r.registered <> coalesce(s.screened, 0) OR coalesce(s.screened, 0) <> coalesce(s.distinct_patients, 0);

-- score = the weighted sum of the scored flags, recomputed from the stored columns
CREATE OR REPLACE TEMP TABLE check_score_sum AS
WITH flags AS (
    UNPIVOT (
        SELECT h.practice_id, h.quarter, h.patient_id, h.score,
               COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
        FROM score_history AS h
        JOIN screen_work AS w USING (practice_id, quarter)
        WHERE h.profile_name = getvariable('profile_name') AND h.profile_version = getvariable('profile_version')
    )
    ON COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
    INTO NAME characteristic VALUE flag
)
SELECT f.practice_id, f.quarter, f.patient_id, any_value(f.score) AS score,
       sum(CASE WHEN f.flag AND ch.scored THEN ch.weight ELSE 0 END) AS weighted_sum
FROM flags AS f JOIN profile_characteristics AS ch USING (characteristic)
GROUP BY ALL
HAVING any_value(f.score) <> sum(CASE WHEN f.flag AND ch.scored THEN ch.weight ELSE 0 END);

-- no first-time crosser was at or over the threshold in an earlier screened quarter
CREATE OR REPLACE TEMP TABLE check_first_time AS
SELECT s.practice_id, s.quarter, s.patient_id
FROM screening AS s
WHERE s.first_time
  AND s.practice_id IN (SELECT practice_id FROM screen_work)
  AND s.profile_name = getvariable('profile_name') AND s.profile_version = getvariable('profile_version')
  AND EXISTS (SELECT 1 FROM score_history AS e
              WHERE e.practice_id = s.practice_id AND e.patient_id = s.patient_id
                AND e.profile_name = s.profile_name AND e.profile_version = s.profile_version
                AND e.quarter < s.quarter AND e.over_threshold);
