-- Quarters as text '2026Q3'. Index = year * 4 + quarter - 1, so consecutive quarters differ by 1.
CREATE OR REPLACE TEMP MACRO omu_quarter_index(q) AS
    CAST(left(q, 4) AS INTEGER) * 4 + CAST(right(q, 1) AS INTEGER) - 1;
CREATE OR REPLACE TEMP MACRO omu_quarter_label(i) AS
    CAST(i // 4 AS VARCHAR) || 'Q' || CAST(i % 4 + 1 AS VARCHAR);
-- The reference date: the quarter's last day (2026Q3 -> 2026-09-30).
CREATE OR REPLACE TEMP MACRO omu_quarter_end(q) AS
    last_day(make_date(CAST(left(q, 4) AS INTEGER), CAST(right(q, 1) AS INTEGER) * 3, 1));
