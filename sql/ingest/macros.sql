-- Macros shared by the ingest checks. The contract's patterns arrive as variables set from
-- omu/contract.py (one definition), the extraction date as getvariable('extracted_on').

CREATE OR REPLACE TEMP MACRO omu_problem(col, val, why) AS
    struct_pack("column" := col::VARCHAR, "value" := val::VARCHAR, reason := why::VARCHAR);

-- Both date formats of the contract; NULL when the text is no real date (2026-02-30 is none).
CREATE OR REPLACE TEMP MACRO omu_date(t) AS CASE
    WHEN regexp_full_match(t, getvariable('iso_date_pattern')) THEN try_strptime(t, '%Y-%m-%d')::DATE
    WHEN regexp_full_match(t, getvariable('dutch_date_pattern')) THEN try_strptime(t, '%d-%m-%Y')::DATE
END;

CREATE OR REPLACE TEMP MACRO omu_int(t) AS
    CASE WHEN regexp_full_match(t, getvariable('integer_pattern')) THEN try_cast(t AS BIGINT) END;

-- Decimal comma or point: 7,5 and 7.5 are the same number.
CREATE OR REPLACE TEMP MACRO omu_number(t) AS
    CASE WHEN regexp_full_match(t, getvariable('number_pattern')) THEN try_cast(replace(t, ',', '.') AS DOUBLE) END;

-- The contract's sex codes read with its aliases (sex_aliases: F -> V, U -> O; omu/contract.py).
CREATE OR REPLACE TEMP MACRO omu_sex(t) AS coalesce(getvariable('sex_aliases')[upper(t)], upper(t));

CREATE OR REPLACE TEMP MACRO omu_missing(col, t) AS
    CASE WHEN t IS NULL THEN omu_problem(col, NULL, 'missing required value') END;

CREATE OR REPLACE TEMP MACRO omu_check_date(col, t) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN omu_date(t) IS NULL THEN omu_problem(col, t, 'unparsable date (expected YYYY-MM-DD or DD-MM-YYYY)')
    WHEN omu_date(t) < DATE '1900-01-01' THEN omu_problem(col, t, 'date before 1900')
    WHEN omu_date(t) > getvariable('extracted_on') THEN omu_problem(col, t, 'date after the extraction date')
END;

CREATE OR REPLACE TEMP MACRO omu_check_int(col, t, lowest, highest) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN omu_int(t) IS NULL THEN omu_problem(col, t, 'unparsable whole number')
    WHEN omu_int(t) < lowest OR omu_int(t) > highest
        THEN omu_problem(col, t, 'number out of range ' || lowest || '-' || highest)
END;

CREATE OR REPLACE TEMP MACRO omu_check_number(col, t) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN omu_number(t) IS NULL THEN omu_problem(col, t, 'unparsable number')
END;

CREATE OR REPLACE TEMP MACRO omu_check_pattern(col, t, pattern, what) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN NOT regexp_full_match(t, pattern) THEN omu_problem(col, t, 'code of the wrong shape: ' || what)
END;

CREATE OR REPLACE TEMP MACRO omu_check_in(col, t, allowed) AS CASE
    WHEN t IS NULL THEN NULL
    WHEN NOT list_contains(allowed, t) THEN omu_problem(col, t, 'value not allowed (allowed: ' || array_to_string(allowed, ', ') || ')')
END;

CREATE OR REPLACE TEMP MACRO omu_problems(candidates) AS list_filter(candidates, lambda p: p IS NOT NULL);

-- Duplicates are judged on the typed row, as it would load (and as Great Expectations checks it):
-- 90 and 90.0, or 2026-01-05 and 05-01-2026, are the same value. tbl: a typed table with line and
-- problems; a row equal to an earlier one in every other column (its problems too, which name a
-- value that failed to type) gets the problem 'duplicate of line N'; the first copy is kept.
-- Adds copy_no (1 = the first copy).
CREATE OR REPLACE TEMP MACRO omu_flag_duplicates(tbl) AS TABLE
SELECT * EXCLUDE (first_line) REPLACE (
    CASE WHEN copy_no > 1
         THEN list_prepend(omu_problem(NULL, NULL, 'duplicate of line ' || first_line
                                                   || ' (the same values once typed)'), problems)
         ELSE problems END AS problems)
FROM (
    SELECT *, row_number() OVER same_row AS copy_no, min(line) OVER same_row AS first_line
    FROM query_table(tbl)
    WINDOW same_row AS (PARTITION BY row(*COLUMNS(* EXCLUDE (line))) ORDER BY line)
);
