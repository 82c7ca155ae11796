-- Append the new ledger versions (registered frames ledger_new and served_new; empty when
-- nothing changed). Run in the transaction that replaces the indicators.
INSERT INTO disclosure_ledger BY NAME
SELECT quarter, profile_name, profile_version, version, level, area_code, indicator, exact, published, recorded_at
FROM ledger_new;
INSERT INTO disclosure_served BY NAME
SELECT quarter, profile_name, profile_version, version, practice_id, wijk_area
FROM served_new;
