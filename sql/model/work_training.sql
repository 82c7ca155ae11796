-- The reference dates the risk model learns from: the time split. Per practice, the delivery in
-- force for its LATEST quarter L holds full history; from it the model takes reference dates R
-- (quarter ends) whose whole outcome window has passed by that delivery's extraction date,
--     R + window_days <= extracted_on      (365 days: quarter L-4 and earlier),
-- the `reference_quarters` most recent such R per practice, and only where the delivery reaches
-- back `history_days` before R (so no past-year feature is cut short by the start of the extract).
-- Features are read on or before R, outcomes after R (sql/model/features.sql, outcome.sql).
-- Output: screen_work, the shape sql/screening/population.sql reads.
-- Variables: window_days, reference_quarters, history_days.
CREATE OR REPLACE TEMP TABLE screen_work AS
WITH latest AS (
    SELECT d.practice_id, d.quarter AS source_quarter,
           coalesce(d.extracted_on, omu_quarter_end(d.quarter)) AS observed_until
    FROM current_deliveries AS d
    WHERE EXISTS (SELECT 1 FROM patients AS p WHERE p.practice_id = d.practice_id AND p.quarter = d.quarter)
    QUALIFY row_number() OVER (PARTITION BY d.practice_id ORDER BY d.quarter DESC) = 1
),
history_start AS (
    SELECT l.practice_id, min(e.day) AS since
    FROM latest AS l
    JOIN (SELECT practice_id, quarter, contact_on AS day FROM contacts
          UNION ALL
          SELECT practice_id, quarter, prescribed_on FROM prescriptions) AS e
      ON e.practice_id = l.practice_id AND e.quarter = l.source_quarter
    GROUP BY l.practice_id
),
candidates AS (
    SELECT l.practice_id, l.source_quarter, l.observed_until, h.since,
           omu_quarter_label(omu_quarter_index(l.source_quarter) - k.k) AS quarter
    FROM latest AS l
    JOIN history_start AS h USING (practice_id)
    CROSS JOIN range(1, 81) AS k(k)
)
SELECT practice_id, quarter, source_quarter, true AS backfilled, omu_quarter_end(quarter) AS reference_date
FROM candidates
WHERE omu_quarter_end(quarter) + getvariable('window_days')::INTEGER <= observed_until
  AND omu_quarter_end(quarter) - getvariable('history_days')::INTEGER >= since
QUALIFY row_number() OVER (PARTITION BY practice_id ORDER BY quarter DESC) <= getvariable('reference_quarters');
