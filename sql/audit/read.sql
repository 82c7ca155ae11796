-- The access log, oldest first, optionally for one practice and from a date on.
SELECT entry_no, logged_at, os_user, host, action, practice_id, quarter, patients, patient_id, dagster_run_id,
       detail, previous_sha256, entry_sha256
FROM access_log
WHERE (getvariable('practice') IS NULL OR practice_id = getvariable('practice'))
  AND (getvariable('since') IS NULL OR logged_at >= getvariable('since'))
ORDER BY entry_no;
