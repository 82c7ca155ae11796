-- The people behind the regional figures: every patient screened in a DELIVERED quarter
-- (backfilled quarters never make regional figures; docs/dashboards.md), up to and including
-- the dashboard's quarter, under one profile version. Temp tables: raw, never persisted.
-- Variables: quarter, profile_name, profile_version, characteristics (list of ids). Needs reference_wijken.

-- The level of a row of a GROUPING SETS query over wijk_area and practice_id (the figures are per
-- wijk, per practice and for the region); called with grouping(wijk_area), grouping(practice_id).
CREATE OR REPLACE TEMP MACRO omu_area_level(by_wijk, by_practice) AS
    CASE WHEN by_wijk = 0 THEN 'wijk' WHEN by_practice = 0 THEN 'praktijk' ELSE 'regio' END;

CREATE OR REPLACE TEMP TABLE dash_wijken AS
SELECT wijk_code, wijk_name, deprivation_group FROM reference_wijken;

CREATE OR REPLACE TEMP TABLE dash_people AS
SELECT
    s.quarter,
    s.practice_id,
    s.patient_id,
    coalesce(w.wijk_code, 'OVERIG') AS wijk_area,
    least(s.age // 5, 18)::INTEGER AS band,            -- ESP2013 band 0 (0-4) .. 18 (90+)
    s.over_threshold,
    s.first_time,
    s.baseline,
    coalesce(w.deprivation_group = 'hoog', false) AS in_deprived_wijk
FROM screening AS s
LEFT JOIN dash_wijken AS w ON w.wijk_code = s.wijk_code
WHERE NOT s.backfilled
  AND s.quarter <= getvariable('quarter')
  AND s.profile_name = getvariable('profile_name')
  AND s.profile_version = getvariable('profile_version');

-- One row per person and characteristic of the profile (scored ones), holds or not.
CREATE OR REPLACE TEMP TABLE dash_flags AS
UNPIVOT (
    SELECT quarter, practice_id, patient_id,
           COLUMNS(lambda c: list_contains(getvariable('characteristics'), c))
    FROM screening
    WHERE NOT backfilled
      AND quarter <= getvariable('quarter')
      AND profile_name = getvariable('profile_name')
      AND profile_version = getvariable('profile_version')
) ON COLUMNS(lambda c: list_contains(getvariable('characteristics'), c))
INTO NAME characteristic VALUE holds;

-- One row per person listed for outreach in a delivered quarter, with the outcome handed back.
--   reached = contact made (clinical/reference/outcomes.csv: reached); al_in_zorg and niet_bereikt apart;
--   no outcome yet = the rest of the list.
CREATE OR REPLACE TEMP TABLE dash_outreach AS
SELECT p.quarter, p.practice_id, p.wijk_area, o.outcome, o.referral_target
FROM outreach_lists AS l
JOIN dash_people AS p
  ON p.quarter = l.quarter AND p.practice_id = l.practice_id AND p.patient_id = l.patient_id
LEFT JOIN outreach_outcomes AS o
  ON o.quarter = l.quarter AND o.practice_id = l.practice_id AND o.patient_id = l.patient_id
 AND o.profile_name = l.profile_name AND o.profile_version = l.profile_version
WHERE l.list_kind = 'outreach' AND l.listed
  AND l.profile_name = getvariable('profile_name')
  AND l.profile_version = getvariable('profile_version');
