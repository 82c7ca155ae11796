-- A contract file's row counts in deliveries (omu/store.py runs this for each file of
-- omu.contract.FILES): rows in the manifest, loaded, and quarantined (distinct lines).
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS {table}_rows_manifest BIGINT;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS {table}_rows_loaded BIGINT;
ALTER TABLE deliveries ADD COLUMN IF NOT EXISTS {table}_rows_quarantined BIGINT;
