-- Replace a practice-quarter's delivery in the store with the staged one, as a whole.
-- Runs inside one transaction (see omu/ingest/load.py), after every raw table's part
-- (merge_table.sql): a failure or a kill leaves the store as it was.
-- Variables: practice_id, quarter, stage_dir. Input: delivery_row (one row).

DELETE FROM quarantine WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO quarantine BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/quarantine.parquet');

INSERT INTO deliveries BY NAME SELECT * FROM delivery_row;
