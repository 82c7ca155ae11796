-- Direct identifiers in a delivery: omu takes pseudonymised extracts only, so any of these
-- refuses the whole delivery. Needs sql/common/identifiers.sql (omu/ingest/identifiers.py).
-- Inputs: raw_columns(file, "column", in_contract) - every header name;
-- raw_values(file, line, "column", scope, value, n) - every distinct non-empty value of a column
-- (and every field of a malformed line), with the first line it is on and the number of lines
-- holding it: each value is judged once, however often it occurs; identifier_columns(priority,
-- name, match, kind) - the column names that are identifiers, normalised.
-- Output: one row per finding (file, line, column, kind, n): the first line and the number of
-- lines of that value; line 1 = the header.
CREATE OR REPLACE TEMP TABLE judged_values AS
SELECT file, line, "column", scope, n, omu_identifier_kind(value, scope) AS kind,
       CASE WHEN scope = 'key' THEN omu_number_kind(value) END AS number_kind
FROM raw_values;

CREATE OR REPLACE TEMP TABLE direct_identifier_findings AS
WITH header AS (
    -- case, separators and accents do not matter: 'BSN-nummer', 'geboorte datum', 'e-mailadres'
    SELECT file, "column", regexp_replace(lower(strip_accents("column")), '[^a-z0-9]', '', 'g') AS normalised
    FROM raw_columns
    WHERE NOT in_contract
),
named AS (
    SELECT h.file, h."column", arg_min(c.kind, c.priority) AS kind
    FROM header AS h
    JOIN identifier_columns AS c
      ON (c.match = 'exact' AND h.normalised = c.name) OR (c.match = 'part' AND contains(h.normalised, c.name))
    GROUP BY ALL
),
-- A pseudonym or code number passes the 11-proef 1 time in 11 by chance; a column of BSNs (or
-- phone numbers) always does. Such a column is refused when at least half of its distinct values
-- (and at least 3, or all when fewer) have that shape.
key_columns AS (
    SELECT file, "column", count(*) AS distinct_values FROM judged_values WHERE scope = 'key' GROUP BY ALL
),
key_shapes AS (
    SELECT file, "column", number_kind AS kind, min(line) AS line, sum(n) AS n, count(*) AS shaped
    FROM judged_values WHERE number_kind IS NOT NULL GROUP BY ALL
)
SELECT file, 1 AS line, "column", kind, 1 AS n FROM named
UNION ALL
SELECT file, line, "column", kind, n FROM judged_values WHERE kind IS NOT NULL
UNION ALL
SELECT s.file, s.line, s."column", s.kind, s.n
FROM key_shapes AS s JOIN key_columns AS k USING (file, "column")
WHERE 2 * s.shaped >= k.distinct_values AND s.shaped >= least(3, k.distinct_values);
