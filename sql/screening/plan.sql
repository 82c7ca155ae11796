-- Which quarters to screen, from which delivery. A deterministic function of the deliveries in
-- force, so deliveries arriving late or out of order give the same history as in order:
--   every delivered quarter is screened from its own delivery;
--   the backfill_quarters quarters before a practice's FIRST delivered quarter are screened
--   from that first delivery (it holds full history), marked backfilled.
-- Variables: practice_id (NULL = all), backfill_quarters.
CREATE OR REPLACE TEMP TABLE screen_plan AS
WITH delivered AS (
    SELECT practice_id, quarter FROM current_deliveries
    WHERE getvariable('practice_id') IS NULL OR practice_id = getvariable('practice_id')
),
first_delivery AS (
    SELECT practice_id, min(quarter) AS first_quarter FROM delivered GROUP BY practice_id
),
planned AS (
    SELECT practice_id, quarter, quarter AS source_quarter, false AS backfilled FROM delivered
    UNION ALL
    SELECT f.practice_id, omu_quarter_label(omu_quarter_index(f.first_quarter) - k.k), f.first_quarter, true
    FROM first_delivery AS f, range(1, getvariable('backfill_quarters') + 1) AS k(k)
)
SELECT practice_id, quarter, source_quarter, backfilled, omu_quarter_end(quarter) AS reference_date
FROM planned;
