-- One raw table's part of the retention (retention.sql, which chose quarters_to_drop), run for
-- each file of omu.contract.FILES in the load's transaction. Variable: practice_id.
DELETE FROM {table} WHERE practice_id = getvariable('practice_id') AND quarter IN (FROM quarters_to_drop);
