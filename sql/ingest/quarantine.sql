-- Every problem of every file in one table: one row per problem (a line may have several).
-- Input: checked_<file> tables and malformed_lines(file, line, reason) from the reader.
-- Quarantine keeps the column and the value that failed, never a whole line: a malformed line is
-- kept as its line number and reason only. A value that looks like a direct identifier by itself
-- (sql/common/identifiers.sql; a pseudonym that passes the 11-proef by chance) is withheld.
CREATE OR REPLACE TEMP TABLE quarantined AS
SELECT file, line, "column", CASE WHEN kind IS NULL THEN value END AS value,
       reason || coalesce(' (value withheld: it looks like ' || kind || ')', '') AS reason
FROM (SELECT *, omu_identifier_kind(value, 'text') AS kind FROM (
SELECT 'patients.csv' AS file, line, unnest(problems, recursive := true) FROM checked_patients
UNION ALL BY NAME
SELECT 'episodes.csv' AS file, line, unnest(problems, recursive := true) FROM checked_episodes
UNION ALL BY NAME
SELECT 'prescriptions.csv' AS file, line, unnest(problems, recursive := true) FROM checked_prescriptions
UNION ALL BY NAME
SELECT 'determinations.csv' AS file, line, unnest(problems, recursive := true) FROM checked_determinations
UNION ALL BY NAME
SELECT 'contacts.csv' AS file, line, unnest(problems, recursive := true) FROM checked_contacts
UNION ALL BY NAME
SELECT file, line, NULL AS "column", NULL AS value, reason FROM malformed_lines
));

-- Rows per file: loaded, and quarantined (distinct lines).
CREATE OR REPLACE TEMP TABLE file_accounts AS
SELECT file, loaded, coalesce(q.quarantined, 0) AS quarantined
FROM (
    SELECT 'patients.csv' AS file, count(*) AS loaded FROM accepted_patients
    UNION ALL SELECT 'episodes.csv', count(*) FROM accepted_episodes
    UNION ALL SELECT 'prescriptions.csv', count(*) FROM accepted_prescriptions
    UNION ALL SELECT 'determinations.csv', count(*) FROM accepted_determinations
    UNION ALL SELECT 'contacts.csv', count(*) FROM accepted_contacts
) AS l
LEFT JOIN (SELECT file, count(DISTINCT line) AS quarantined FROM quarantined GROUP BY file) AS q USING (file);
