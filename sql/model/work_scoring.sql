-- The reference date the risk model scores: one quarter of the practices named, read from a
-- delivery (normally the quarter's own; a later one only when features at a past date are wanted).
-- Output: screen_work, the shape sql/screening/population.sql reads.
-- Variables: practice_ids, quarter, source_quarter.
CREATE OR REPLACE TEMP TABLE screen_work AS
SELECT CAST(p.practice_id AS VARCHAR) AS practice_id, getvariable('quarter')::VARCHAR AS quarter,
       getvariable('source_quarter')::VARCHAR AS source_quarter,
       getvariable('quarter') <> getvariable('source_quarter') AS backfilled,
       omu_quarter_end(getvariable('quarter')) AS reference_date
FROM unnest(getvariable('practice_ids')) AS p(practice_id);
