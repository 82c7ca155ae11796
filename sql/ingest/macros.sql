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

-- The first occurrence of a row is kept; each later identical row is quarantined.
CREATE OR REPLACE TEMP MACRO omu_duplicate(copy_no, first_line) AS
    CASE WHEN copy_no > 1 THEN omu_problem(NULL, NULL, 'exact duplicate of line ' || first_line) END;

CREATE OR REPLACE TEMP MACRO omu_problems(candidates) AS list_filter(candidates, lambda p: p IS NOT NULL);
