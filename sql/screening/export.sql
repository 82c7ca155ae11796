-- One practice's screening of one quarter, as written to out/<quarter>/practices/<practice_id>/
-- screening.csv: the profile's own characteristic columns only.
-- Variables: practice_id, quarter, profile_name, profile_version, characteristic_ids.
SELECT practice_id, quarter, patient_id, profile_name, profile_version, reference_date, age, sex, wijk_code,
       COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c)),
       score, over_threshold, first_time, baseline, first_crossed_quarter, backfilled, source_quarter
FROM screening
WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter')
  AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version')
ORDER BY patient_id
