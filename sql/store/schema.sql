-- The omu store. Raw delivery tables keep every retained delivery, keyed by practice_id and the
-- delivery's quarter, so any earlier quarter can be screened again from its own extract.

CREATE TABLE IF NOT EXISTS patients (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, line BIGINT NOT NULL,
    patient_id VARCHAR NOT NULL, birth_year INTEGER NOT NULL, birth_month INTEGER,
    sex VARCHAR NOT NULL, wijk_code VARCHAR NOT NULL, pc4 VARCHAR,
    registered_from DATE NOT NULL, registered_until DATE, end_reason VARCHAR
);
CREATE TABLE IF NOT EXISTS episodes (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, line BIGINT NOT NULL,
    patient_id VARCHAR NOT NULL, icpc VARCHAR NOT NULL, start_date DATE NOT NULL, end_date DATE
);
CREATE TABLE IF NOT EXISTS prescriptions (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, line BIGINT NOT NULL,
    patient_id VARCHAR NOT NULL, atc VARCHAR NOT NULL, prescribed_on DATE NOT NULL,
    quantity DOUBLE, duration_days INTEGER
);
CREATE TABLE IF NOT EXISTS determinations (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, line BIGINT NOT NULL,
    patient_id VARCHAR NOT NULL, code INTEGER NOT NULL, measured_on DATE NOT NULL,
    value VARCHAR NOT NULL, value_number DOUBLE
);
CREATE TABLE IF NOT EXISTS contacts (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, line BIGINT NOT NULL,
    patient_id VARCHAR NOT NULL, contact_on DATE NOT NULL, kind VARCHAR NOT NULL
);

-- Rows kept aside, one row per problem found (a line can have several); line 1 = the header.
CREATE TABLE IF NOT EXISTS quarantine (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, file VARCHAR NOT NULL,
    line BIGINT NOT NULL, "column" VARCHAR, value VARCHAR, reason VARCHAR NOT NULL
);

-- Every delivery received, loaded or refused. Per file: rows in the manifest, loaded, and
-- quarantined (distinct lines); loaded + quarantined = manifest for every loaded delivery.
CREATE TABLE IF NOT EXISTS deliveries (
    practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL, manifest_sha256 VARCHAR NOT NULL,
    received_at TIMESTAMP NOT NULL, status VARCHAR NOT NULL CHECK (status IN ('loaded', 'refused')),
    reason VARCHAR, contract_version INTEGER, extracted_on DATE, his_vendor VARCHAR,
    pseudonym_key_id VARCHAR, raw_dropped_at TIMESTAMP,
    patients_rows_manifest BIGINT, patients_rows_loaded BIGINT, patients_rows_quarantined BIGINT,
    episodes_rows_manifest BIGINT, episodes_rows_loaded BIGINT, episodes_rows_quarantined BIGINT,
    prescriptions_rows_manifest BIGINT, prescriptions_rows_loaded BIGINT, prescriptions_rows_quarantined BIGINT,
    determinations_rows_manifest BIGINT, determinations_rows_loaded BIGINT, determinations_rows_quarantined BIGINT,
    contacts_rows_manifest BIGINT, contacts_rows_loaded BIGINT, contacts_rows_quarantined BIGINT
);

-- The delivery in force per practice and quarter: the latest one that loaded.
CREATE OR REPLACE VIEW current_deliveries AS
SELECT * FROM deliveries
WHERE status = 'loaded'
QUALIFY row_number() OVER (PARTITION BY practice_id, quarter ORDER BY received_at DESC) = 1;
