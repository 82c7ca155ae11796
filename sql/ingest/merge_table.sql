-- One raw table's part of the merge (merge.sql), run for each file of omu.contract.FILES inside
-- the one transaction of the delivery's load (omu/ingest/load.py): the practice-quarter's rows
-- of {table} are replaced by the staged ones. Variables: practice_id, quarter, stage_dir.
DELETE FROM {table} WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter');
INSERT INTO {table} BY NAME
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, *
FROM read_parquet(getvariable('stage_dir') || '/{table}.parquet');
