-- Regional indicators AFTER small-number suppression: only figures that may be shown.
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

-- Disclosure ledger: every version of a quarter's regional person counts that was stored for
-- publication, with the exact value next to the published one (NULL published = hidden). The
-- exact values never leave the store; they let a later re-publication keep what was hidden
-- hidden and audit itself together with every earlier version (docs/privacy.md). Append-only:
-- a version is added only when a recomputation changed a count or the practices behind it.
CREATE TABLE IF NOT EXISTS disclosure_ledger (
    quarter VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    version INTEGER NOT NULL,        -- 1, 2, ... per quarter and profile
    level VARCHAR NOT NULL,
    area_code VARCHAR NOT NULL,
    indicator VARCHAR NOT NULL,      -- a person count of the indicators table
    exact BIGINT NOT NULL,
    published BIGINT,                -- rounded to 5; NULL = hidden
    recorded_at TIMESTAMP NOT NULL
);
-- Which practice has registered patients in which wijk, per ledger version (no counts): the
-- structure a reader may infer from the 'practices' column, used by the audit.
CREATE TABLE IF NOT EXISTS disclosure_served (
    quarter VARCHAR NOT NULL,
    profile_name VARCHAR NOT NULL,
    profile_version INTEGER NOT NULL,
    version INTEGER NOT NULL,
    practice_id VARCHAR NOT NULL,
    wijk_area VARCHAR NOT NULL
);
