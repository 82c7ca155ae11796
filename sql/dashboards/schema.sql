-- Regional indicators (issue 7), AFTER small-number suppression: only figures that may be shown.
-- Long layout, one row per quarter, profile, area and indicator, so a profile with other
-- characteristics needs no other columns. value NULL = not shown (suppressed, or not computable,
-- e.g. a rate on 0 people or a standardised rate on fewer than 10 events). lower/upper: the 95%
-- interval where the indicator has one. Written by dashboards/indicators.py (see docs/dashboards.md).
CREATE TABLE IF NOT EXISTS indicators (
    quarter VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    level VARCHAR NOT NULL CHECK (level IN ('regio', 'wijk', 'praktijk')),
    area_code VARCHAR NOT NULL,      -- REGIO | CBS wijk code (WK0344xx) or OVERIG | practice_id
    area_name VARCHAR NOT NULL,
    indicator VARCHAR NOT NULL,      -- e.g. registered, pct_over, dsr_over, char_pct:lives_alone
    unit VARCHAR NOT NULL,           -- aantal | % | per 1.000 | praktijken | trechter
    value DOUBLE,
    lower DOUBLE,
    upper DOUBLE,
    computed_at TIMESTAMP NOT NULL
);
