-- Features of the risk model per patient registered on each reference date R of screen_work,
-- from the delivery the work names. NOTHING dated after R is read: every event below is
-- filtered to a date on or before R, an episode counts as active on R exactly as in screening
-- (start_date <= R, end_date empty or >= R), and the profile's flags, age, sex and wijk come from
-- `scored` (sql/screening/score.sql, the screening's own criteria SQL on the same work).
--   n_chronic_episodes      active episodes on R with a code of the chronic codelist (sub-codes count)
--   n_medicines_past_year   distinct ATC codes prescribed in R - lookback_days <= date <= R
--   n_contacts_past_year    contacts of any kind in that window
--   unplanned_care_past_year  contacts and episodes of the outcome's codelists in that window
--   days_since_last_contact R - the latest contact on or before R (NULL: none in the extract)
--   deprivation             wijk deprivation group: 0 laag, 1 midden, 2 hoog (NULL: unknown wijk)
-- Input: screen_work, population, scored, model_codes (role, code), model_wijken.
-- Variables: lookback_days.
CREATE OR REPLACE TEMP TABLE model_features AS
WITH chronic AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id, count(*) AS n
    FROM population AS pop
    JOIN episodes AS e
      ON e.practice_id = pop.practice_id AND e.quarter = pop.source_quarter AND e.patient_id = pop.patient_id
    JOIN model_codes AS k
      ON k.role = 'chronic' AND omu_icpc_matches(e.icpc, k.code)
    WHERE e.start_date <= pop.reference_date
      AND (e.end_date IS NULL OR e.end_date >= pop.reference_date)
    GROUP BY ALL
),
medicines AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id, count(DISTINCT rx.atc) AS n
    FROM population AS pop
    JOIN prescriptions AS rx
      ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
    WHERE rx.prescribed_on BETWEEN pop.reference_date - getvariable('lookback_days')::INTEGER AND pop.reference_date
    GROUP BY ALL
),
contact_summary AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id,
           count(*) FILTER (WHERE ct.contact_on >= pop.reference_date - getvariable('lookback_days')::INTEGER)
               AS n_contacts,
           count(*) FILTER (WHERE ct.contact_on >= pop.reference_date - getvariable('lookback_days')::INTEGER
                              AND ct.kind IN (SELECT code FROM model_codes WHERE role = 'contact_kind'))
               AS n_unplanned_contacts,
           max(ct.contact_on) AS last_contact
    FROM population AS pop
    JOIN contacts AS ct
      ON ct.practice_id = pop.practice_id AND ct.quarter = pop.source_quarter AND ct.patient_id = pop.patient_id
    WHERE ct.contact_on <= pop.reference_date
    GROUP BY ALL
),
unplanned_episodes AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id, count(*) AS n
    FROM population AS pop
    JOIN episodes AS e
      ON e.practice_id = pop.practice_id AND e.quarter = pop.source_quarter AND e.patient_id = pop.patient_id
    WHERE e.start_date BETWEEN pop.reference_date - getvariable('lookback_days')::INTEGER AND pop.reference_date
      AND EXISTS (SELECT 1 FROM model_codes AS k
                  WHERE k.role = 'episode' AND omu_icpc_matches(e.icpc, k.code))
    GROUP BY ALL
)
SELECT s.practice_id, s.quarter, s.patient_id, s.reference_date, s.source_quarter,
       s.age, s.sex, s.wijk_code, w.deprivation_group, s.score, s.over_threshold,
       CAST(s.sex = 'V' AS INTEGER) AS female,
       COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c)),
       coalesce(ch.n, 0)::INTEGER AS n_chronic_episodes,
       coalesce(m.n, 0)::INTEGER AS n_medicines_past_year,
       coalesce(cs.n_contacts, 0)::INTEGER AS n_contacts_past_year,
       (coalesce(cs.n_unplanned_contacts, 0) + coalesce(ue.n, 0))::INTEGER AS unplanned_care_past_year,
       (s.reference_date - cs.last_contact)::INTEGER AS days_since_last_contact,
       w.deprivation AS deprivation
FROM scored AS s
LEFT JOIN chronic AS ch USING (practice_id, quarter, patient_id)
LEFT JOIN medicines AS m USING (practice_id, quarter, patient_id)
LEFT JOIN contact_summary AS cs USING (practice_id, quarter, patient_id)
LEFT JOIN unplanned_episodes AS ue USING (practice_id, quarter, patient_id)
LEFT JOIN model_wijken AS w ON w.wijk_code = s.wijk_code;
