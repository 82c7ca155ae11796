-- Keep the raw rows of a practice's newest `retention` delivered quarters; drop older ones.
-- Screening history is kept apart (score_history) and is never dropped here.
-- Variables: practice_id, retention.
CREATE OR REPLACE TEMP TABLE quarters_to_drop AS
SELECT quarter FROM current_deliveries
WHERE practice_id = getvariable('practice_id') AND raw_dropped_at IS NULL
QUALIFY row_number() OVER (ORDER BY quarter DESC) > getvariable('retention');

DELETE FROM patients WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
DELETE FROM episodes WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
DELETE FROM prescriptions WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
DELETE FROM determinations WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
DELETE FROM contacts WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
UPDATE deliveries SET raw_dropped_at = current_timestamp
WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop) AND raw_dropped_at IS NULL;
