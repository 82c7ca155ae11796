-- An ICPC code matches a listed code when it is that code or one of its sub-codes
-- (F94 covers F94.01; F94 does not cover F941).
CREATE OR REPLACE TEMP MACRO omu_icpc_matches(icpc, listed) AS
    icpc = listed OR starts_with(icpc, listed || '.');
