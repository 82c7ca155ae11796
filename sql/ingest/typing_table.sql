-- The end of a contract file's typing made from its entry (omu/ingest/typing.py wrote
-- typed_{table}: line, the typed columns, problems): duplicates flagged, the rows without
-- problems accepted, as the hand-written sql/ingest/<table>.sql files end.
CREATE OR REPLACE TEMP TABLE checked_{table} AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_{table}');

CREATE OR REPLACE TEMP TABLE accepted_{table} AS
SELECT * EXCLUDE (problems) FROM checked_{table} WHERE len(problems) = 0;
