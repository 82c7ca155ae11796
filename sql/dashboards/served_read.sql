-- The practice/wijk structure of every stored ledger version of one profile up to a quarter.
SELECT quarter, version, practice_id, wijk_area
FROM disclosure_served
WHERE quarter <= getvariable('quarter')
  AND profile_name = getvariable('profile_name')
  AND profile_version = getvariable('profile_version')
ORDER BY ALL;
