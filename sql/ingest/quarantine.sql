-- Every problem of every file in one table: one row per problem (a line may have several).
-- Input: problems_<table> and loaded_<table> of every contract file (quarantine_table.sql; the
-- variable contract_tables lists their tables, omu.contract.FILES) and malformed_lines(file, line,
-- reason) from the reader.
-- Quarantine keeps the column and the value that failed, never a whole line: a malformed line is
-- kept as its line number and reason only. A value that looks like a direct identifier by itself
-- (sql/common/identifiers.sql; a pseudonym that passes the 11-proef by chance) is withheld.
CREATE OR REPLACE TEMP TABLE quarantined AS
SELECT file, line, "column", CASE WHEN kind IS NULL THEN value END AS value,
       reason || coalesce(' (value withheld: it looks like ' || kind || ')', '') AS reason
FROM (SELECT *, omu_identifier_kind(value, 'text') AS kind FROM (
FROM query_table(list_transform(getvariable('contract_tables'), lambda t: 'problems_' || t), true)
UNION ALL BY NAME
SELECT file, line, NULL AS "column", NULL AS value, reason FROM malformed_lines
));

-- Rows per file: loaded, and quarantined (distinct lines).
CREATE OR REPLACE TEMP TABLE file_accounts AS
SELECT file, loaded, coalesce(q.quarantined, 0) AS quarantined
FROM query_table(list_transform(getvariable('contract_tables'), lambda t: 'loaded_' || t), true) AS l
LEFT JOIN (SELECT file, count(DISTINCT line) AS quarantined FROM quarantined GROUP BY file) AS q USING (file);
