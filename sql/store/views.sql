-- The store's views, made after every table (omu/store.py: create_schema): a view's columns are
-- those of its tables when it is made.

-- The delivery in force per practice and quarter: the latest one that loaded.
CREATE OR REPLACE VIEW current_deliveries AS
SELECT * FROM deliveries
WHERE status = 'loaded'
QUALIFY row_number() OVER (PARTITION BY practice_id, quarter ORDER BY received_at DESC) = 1;
