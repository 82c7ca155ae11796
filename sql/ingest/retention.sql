-- Keep the raw rows of a practice's newest `retention` delivered quarters; drop older ones.
-- Screening history is kept apart (score_history) and is never dropped here.
-- Variables: practice_id, retention. Each raw table then drops these quarters (retention_table.sql),
-- in the same transaction.
CREATE OR REPLACE TEMP TABLE quarters_to_drop AS
SELECT quarter FROM current_deliveries
WHERE practice_id = getvariable('practice_id') AND raw_dropped_at IS NULL
QUALIFY row_number() OVER (ORDER BY quarter DESC) > getvariable('retention');

UPDATE deliveries SET raw_dropped_at = current_timestamp
WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop) AND raw_dropped_at IS NULL;
