-- A practice's own exact figures for its feedback report, every delivered quarter up to the
-- report's quarter (the trend). Own patients only: every table below filters on practice_id.
-- Variables: practice_id, quarter, profile_name, profile_version, characteristic_ids; the outcome
-- vocabulary (contact_outcomes, reached_outcomes, ..._outcomes: clinical/reference/outcomes.csv).
-- Input: screening, outreach_lists, outreach_outcomes, referral_followups, reference_wijken.
--
-- Definitions (docs/evaluation.md):
--   a list of quarter Q is made after Q's delivery and worked in the quarter after Q (the working
--   quarter); "contacted within the quarter" = a contact (outcomes.csv: contact, e.g. bereikt)
--   dated on or before the working quarter's last day; time to contact = days from the working
--   quarter's first day to the contact date.
--   attempted = any outcome handed back (niet_bereikt included); reached = outcomes.csv: reached
--   (bereikt, verwezen or afgezien; as on the regional dashboard).

CREATE OR REPLACE TEMP TABLE fb_people AS
SELECT s.*, coalesce(w.deprivation_group = 'hoog', false) AS in_deprived_wijk
FROM screening AS s
LEFT JOIN reference_wijken AS w ON w.wijk_code = s.wijk_code
WHERE s.practice_id = getvariable('practice_id') AND NOT s.backfilled
  AND s.quarter <= getvariable('quarter')
  AND s.profile_name = getvariable('profile_name') AND s.profile_version = getvariable('profile_version');

CREATE OR REPLACE TEMP TABLE fb_screened AS
SELECT quarter,
       count(*) AS screened,
       count(*) FILTER (WHERE over_threshold) AS over_threshold,
       count(*) FILTER (WHERE first_time) AS first_time,
       count(*) FILTER (WHERE baseline) AS baseline,
       count(*) FILTER (WHERE in_deprived_wijk) AS in_deprived_wijk
FROM fb_people
GROUP BY quarter;

-- first-time crossers per characteristic (long: one row per quarter and characteristic that holds)
CREATE OR REPLACE TEMP TABLE fb_first_time_characteristics AS
SELECT quarter, characteristic, count(*) FILTER (WHERE holds) AS first_time
FROM (
    UNPIVOT (SELECT quarter, COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
             FROM fb_people WHERE first_time)
    ON COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
    INTO NAME characteristic VALUE holds
)
GROUP BY quarter, characteristic;

CREATE OR REPLACE TEMP TABLE fb_list_rows AS
SELECT l.quarter, l.patient_id, l.listed, o.outcome, o.referral_target, o.outcome_date,
       f.arrived, f.arrived_on,
       omu_quarter_end(l.quarter) + 1 AS work_start,
       omu_quarter_end(omu_quarter_label(omu_quarter_index(l.quarter) + 1)) AS work_end
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id)
LEFT JOIN referral_followups AS f USING (practice_id, quarter, patient_id)
WHERE l.practice_id = getvariable('practice_id') AND l.list_kind = 'outreach'
  AND l.quarter <= getvariable('quarter')
  AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
  AND l.quarter IN (SELECT quarter FROM fb_screened);

CREATE OR REPLACE TEMP TABLE fb_list AS
SELECT quarter,
       count(*) AS asked,
       count(*) FILTER (WHERE listed) AS listed,
       count(*) FILTER (WHERE NOT listed) AS backlog,
       count(*) FILTER (WHERE listed AND outcome IS NOT NULL) AS attempted,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('reached_outcomes'), outcome)) AS reached,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('not_reached_outcomes'), outcome)) AS not_reached,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('declined_outcomes'), outcome)) AS declined,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('already_in_care_outcomes'), outcome)) AS already_in_care,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('referred_outcomes'), outcome)) AS referred,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('referred_outcomes'), outcome) AND arrived = 'ja') AS arrived,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('referred_outcomes'), outcome) AND arrived = 'nee') AS not_arrived,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('referred_outcomes'), outcome) AND coalesce(arrived, 'onbekend') = 'onbekend')
           AS arrival_unknown,
       count(*) FILTER (WHERE listed AND outcome IS NULL) AS no_outcome,
       count(*) FILTER (WHERE listed AND list_contains(getvariable('contact_outcomes'), outcome)
                        AND outcome_date <= work_end) AS contacted_in_quarter,
       median(outcome_date - work_start) FILTER (WHERE listed AND outcome_date IS NOT NULL
                        AND list_contains(getvariable('contact_outcomes'), outcome)) AS median_days_to_contact
FROM fb_list_rows
GROUP BY quarter;

CREATE OR REPLACE TEMP TABLE fb_referrals AS
SELECT quarter, referral_target, count(*) AS referred,
       count(*) FILTER (WHERE arrived = 'ja') AS arrived
FROM fb_list_rows
WHERE listed AND list_contains(getvariable('referred_outcomes'), outcome)
GROUP BY quarter, referral_target;

CREATE OR REPLACE TEMP TABLE fb_quarters AS
SELECT s.*, l.* EXCLUDE (quarter)
FROM fb_screened AS s
LEFT JOIN fb_list AS l USING (quarter)
ORDER BY s.quarter;
