-- Every stored version of the disclosure ledger of one profile up to a quarter (exact values:
-- read inside the store only, by dashboards/indicators.py).
SELECT quarter, version, level, area_code, indicator, exact, published
FROM disclosure_ledger
WHERE quarter <= getvariable('quarter')
  AND profile_name = getvariable('profile_name')
  AND profile_version = getvariable('profile_version')
ORDER BY quarter, version, level, area_code, indicator;
