-- screening: the score history with first-time crossers and the baseline, derived (never stored)
-- so late, repeated or out-of-order deliveries can never leave them stale.
--   first_time: at or over the threshold in this quarter, and below it in every earlier quarter
--               screened for this practice under the same profile version.
--   baseline:   in the practice's first delivered quarter, at or over the threshold and already
--               over it in a backfilled quarter before: the separate baseline list.
CREATE OR REPLACE VIEW screening AS
SELECT
    h.*,
    h.over_threshold AND NOT coalesce(bool_or(h.over_threshold) OVER earlier, false) AS first_time,
    h.over_threshold AND coalesce(bool_or(h.over_threshold) OVER earlier, false)
        AND h.quarter = min(h.quarter) FILTER (WHERE NOT h.backfilled) OVER practice AS baseline,
    min(h.quarter) FILTER (WHERE h.over_threshold) OVER so_far AS first_crossed_quarter
FROM score_history AS h
WINDOW
    earlier AS (PARTITION BY h.practice_id, h.patient_id, h.profile_name, h.profile_version
                ORDER BY h.quarter ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
    so_far AS (PARTITION BY h.practice_id, h.patient_id, h.profile_name, h.profile_version
               ORDER BY h.quarter ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW),
    practice AS (PARTITION BY h.practice_id, h.profile_name, h.profile_version);
