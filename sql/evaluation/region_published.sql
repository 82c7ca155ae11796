-- The region's published figures of one quarter, as stored (already suppressed) in `indicators`:
-- the only regional numbers a practice's feedback report may show.
SELECT indicator, value, lower, upper
FROM indicators
WHERE level = 'regio' AND quarter = getvariable('quarter')
  AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version')
ORDER BY indicator;
