-- The access log (in the spirit of NEN 7513): who did what with whose data, when. Append-only:
-- omu only ever inserts (omu/audit.py); each entry carries the sha256 of the previous entry and
-- of itself, so a changed or removed entry breaks the chain (`omu audit` checks it).
CREATE TABLE IF NOT EXISTS access_log (
    entry_no BIGINT NOT NULL PRIMARY KEY,       -- 1, 2, 3, ... in the order written
    logged_at TIMESTAMP NOT NULL,               -- UTC
    os_user VARCHAR NOT NULL,
    host VARCHAR NOT NULL,
    action VARCHAR NOT NULL CHECK (action IN ('run', 'list_written', 'outcomes_imported', 'explain',
                                              'dashboard_written', 'model_report', 'ui_started')),
    practice_id VARCHAR,                        -- NULL: every practice (region, model) or none (ui)
    quarter VARCHAR,
    patients BIGINT CHECK (patients >= 0),      -- how many patients' data the action touched
    patient_id VARCHAR,                         -- the pseudonym, for `explain` only
    dagster_run_id VARCHAR,                     -- when the action ran inside a Dagster run
    detail VARCHAR,                             -- aggregates only: which files, which step
    previous_sha256 VARCHAR NOT NULL,
    entry_sha256 VARCHAR NOT NULL
);
