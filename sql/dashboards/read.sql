-- The stored (suppressed) indicators of every quarter up to the dashboard's, for one profile.
SELECT *
FROM indicators
WHERE quarter <= getvariable('quarter')
  AND profile_name = getvariable('profile_name')
  AND profile_version = getvariable('profile_version')
ORDER BY quarter, level, area_code, indicator;
