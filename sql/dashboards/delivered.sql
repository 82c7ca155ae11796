-- Quarters delivered (not only backfilled) by at least one practice, under one profile version.
SELECT DISTINCT quarter
FROM score_history
WHERE NOT backfilled
  AND profile_name = getvariable('profile_name')
  AND profile_version = getvariable('profile_version')
ORDER BY quarter;
