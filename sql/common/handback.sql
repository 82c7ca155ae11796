-- One implementation of the checks that every file a practice hands back shares (omu outcomes
-- import: outcomes and referral follow-ups; omu exclusions import). Each check file reads its
-- rows as text with row_no (the row in the file, header = 1) and these macros; the variable
-- practice is --practice, or NULL.

-- The practice of a row: its column Praktijk, else --practice.
CREATE OR REPLACE TEMP MACRO omu_handback_practice(p) AS trim(coalesce(p, getvariable('practice')));

-- A date as a POH writes it, yyyy-mm-dd or d-m-yyyy; NULL when the text is no date.
CREATE OR REPLACE TEMP MACRO omu_handback_date(t) AS CASE
    WHEN regexp_full_match(trim(t), '[0-9]{4}-[0-9]{2}-[0-9]{2}') THEN try_strptime(trim(t), '%Y-%m-%d')::DATE
    WHEN regexp_full_match(trim(t), '[0-9]{1,2}-[0-9]{1,2}-[0-9]{4}') THEN try_strptime(trim(t), '%d-%m-%Y')::DATE
END;

-- A value of a vocabulary as written: case and spaces do not matter ('Niet bereikt' = niet_bereikt).
CREATE OR REPLACE TEMP MACRO omu_handback_code(t) AS nullif(replace(lower(trim(t)), ' ', '_'), '');

-- The problem of a value outside its vocabulary (allowed: a list), or NULL; what names it.
CREATE OR REPLACE TEMP MACRO omu_handback_unknown(value, allowed, what) AS CASE
    WHEN value IS NULL OR NOT list_contains(allowed, value)
        THEN what || ' (allowed: ' || array_to_string(allowed, ', ') || ')'
END;

-- The problem of a handed-back date (its text and omu_handback_date of it), or NULL.
CREATE OR REPLACE TEMP MACRO omu_handback_date_problem(date_text, date_value, future_allowed) AS CASE
    WHEN nullif(trim(date_text), '') IS NOT NULL AND date_value IS NULL THEN 'not a date (dd-mm-jjjj or yyyy-mm-dd)'
    WHEN date_value > current_date AND NOT future_allowed THEN 'date lies in the future'
END;

-- Whose rows: a practice named (column Praktijk or --practice), the one --practice says, and one
-- practice per file. tbl: a table with row_no and practice_id; what: 'outcomes', 'exclusions', ...
CREATE OR REPLACE TEMP MACRO omu_handback_practice_problems(tbl, what) AS TABLE
SELECT row_no, 'practice_id' AS "column", practice_id AS value, problem
FROM (
    SELECT row_no, practice_id,
           CASE WHEN practice_id IS NULL THEN 'no practice: add a column Praktijk or pass --practice'
                WHEN getvariable('practice') IS NOT NULL AND practice_id <> getvariable('practice')
                    THEN 'wrong practice: this import is for practice ' || getvariable('practice')
                WHEN getvariable('practice') IS NULL AND practice_id <> first_value(practice_id) OVER (
                         ORDER BY row_no ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING)
                    THEN 'wrong practice: one file holds the ' || what || ' of one practice (first row: '
                         || first_value(practice_id) OVER (
                             ORDER BY row_no ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) || ')'
           END AS problem
    FROM query_table(tbl)
)
WHERE problem IS NOT NULL;
