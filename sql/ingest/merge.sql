-- Replace a practice-quarter's delivery in the store with the staged one, as a whole.
-- Runs inside one transaction (see omu/ingest/load.py): a failure or a kill leaves the store as
-- it was. Variables: practice_id, quarter, stage_dir. Input: delivery_row (one row).

DELETE FROM patients WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO patients BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/patients.parquet');

DELETE FROM episodes WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO episodes BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/episodes.parquet');

DELETE FROM prescriptions WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO prescriptions BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/prescriptions.parquet');

DELETE FROM determinations WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO determinations BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/determinations.parquet');

DELETE FROM contacts WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO contacts BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/contacts.parquet');

DELETE FROM quarantine WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO quarantine BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/quarantine.parquet');

INSERT INTO deliveries BY NAME SELECT * FROM delivery_row;
