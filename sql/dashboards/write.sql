-- Replace the stored indicators of the recomputed quarters (variables: quarters, profile_name,
-- profile_version) with the suppressed rows of the registered frame indicators_new. Run in one
-- transaction.
DELETE FROM indicators
WHERE list_contains(getvariable('quarters'), quarter)
  AND profile_name = getvariable('profile_name')
  AND profile_version = getvariable('profile_version');
INSERT INTO indicators BY NAME
SELECT quarter, profile_name, profile_version, level, area_code, area_name, indicator, unit, value, lower, upper,
       computed_at
FROM indicators_new;
