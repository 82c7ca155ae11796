-- The omu store. Raw delivery tables keep every retained delivery, keyed by practice_id and the
-- delivery's quarter, so any earlier quarter can be screened again from its own extract. They are
-- made per contract file from omu/contract.py (omu/store.py: raw_table_ddl), as are the per-file
-- row counts of deliveries (deliveries_counts.sql); this file holds the tables every file shares,
-- views.sql the views (made last, once deliveries has all its columns).

-- Rows kept aside, one row per problem found (a line can have several); line 1 = the header.
CREATE TABLE IF NOT EXISTS quarantine (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, file VARCHAR NOT NULL,
    line BIGINT NOT NULL, "column" VARCHAR, value VARCHAR, reason VARCHAR NOT NULL
);

-- Every delivery received, loaded or refused. Per file, added after these columns
-- (deliveries_counts.sql): <table>_rows_manifest, _rows_loaded and _rows_quarantined (distinct
-- lines); loaded + quarantined = manifest for every loaded delivery.
CREATE TABLE IF NOT EXISTS deliveries (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, manifest_sha256 VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL CHECK (status IN ('loaded', 'refused')),
    reason VARCHAR, contract_version INTEGER, extracted_on DATE, his_vendor VARCHAR,
    pseudonym_key_id VARCHAR, raw_dropped_at TIMESTAMP
);
