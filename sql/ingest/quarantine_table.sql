-- One contract file's share of the quarantine (quarantine.sql), run for each file of
-- omu.contract.FILES after its typing (sql/ingest/{table}.sql or omu/ingest/typing.py).
-- Variable: file (its name).
-- Output: problems_{table} (one row per problem; a line may have several) and loaded_{table}
-- (its number of rows that load).
CREATE OR REPLACE TEMP TABLE problems_{table} AS
SELECT getvariable('file') AS file, line, unnest(problems, recursive := true) FROM checked_{table};

CREATE OR REPLACE TEMP TABLE loaded_{table} AS
SELECT getvariable('file') AS file, count(*) AS loaded FROM accepted_{table};
