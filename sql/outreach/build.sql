-- The outreach list of one practice and quarter, as docs/outreach.md says:
--   who:   first-time crossers of this quarter; patients listed earlier and not reached (an
--          outcome that is not final, e.g. niet_bereikt, or no outcome handed back) with fewer
--          than max_attempts such attempts; and candidates that did not fit an earlier quarter's
--          capacity. Anyone with a final outcome (final_outcomes: clinical/reference/outcomes.csv)
--          is done. Only patients still registered this quarter (in its screening) can be listed.
--   order: the risk model's predicted risk when there is one, else the score; then the oldest
--          first; patient_id last, so the order is reproducible.
--          After an exclusion ends (tijdelijk) or is lifted, a patient over the threshold who
--          was never listed comes on the list (na_uitsluiting).
--   never: a patient the GP excluded (current_exclusions; tijdelijk while it holds on the
--          quarter's reference date).
--   capacity (NULL = no limit): the first `capacity` are listed; the rest roll to next quarter.
-- The baseline list (the practice's first quarter: already over the threshold before) is separate.
-- Variables: practice_id, quarter, profile_name, profile_version, capacity, characteristic_ids,
-- max_attempts, final_outcomes, use_risk_model (the risk model belongs to the primary profile; other profiles' lists ignore it).
-- Input: screening, outreach_lists, outreach_outcomes, risk_scores, profile_characteristics,
--        profile_next_steps.

CREATE OR REPLACE TEMP TABLE this_quarter AS
SELECT * FROM screening
WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter')
  AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version')
  -- the GP's exclusions: nobody excluded on the quarter's reference date gets on any list
  AND patient_id NOT IN (SELECT x.patient_id FROM current_exclusions AS x
                         WHERE x.practice_id = getvariable('practice_id')
                           AND (x.reason <> 'tijdelijk' OR x.until >= omu_quarter_end(getvariable('quarter'))));

CREATE OR REPLACE TEMP TABLE patient_history AS
SELECT l.patient_id,
       bool_or(list_contains(getvariable('final_outcomes'), o.outcome)) AS done,
       count(*) FILTER (WHERE l.listed AND NOT coalesce(list_contains(getvariable('final_outcomes'), o.outcome), false))
           AS attempts,
       bool_or(l.listed) AS ever_listed,
       arg_max(o.outcome, l.quarter) FILTER (WHERE l.listed) AS last_outcome
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id, profile_name, profile_version)
WHERE l.practice_id = getvariable('practice_id') AND l.quarter < getvariable('quarter')
  AND l.list_kind = 'outreach'
  AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
GROUP BY l.patient_id;

CREATE OR REPLACE TEMP TABLE candidates AS
SELECT t.patient_id, 'outreach' AS list_kind,
       CASE WHEN h.patient_id IS NULL AND NOT t.first_time THEN 'na_uitsluiting'
            WHEN h.patient_id IS NULL THEN 'nieuw'
            WHEN NOT h.ever_listed THEN 'doorgeschoven'
            WHEN h.last_outcome IS NOT NULL THEN 'niet_bereikt'  -- handed back, not final
            ELSE 'geen_uitkomst' END AS inclusion,
       coalesce(h.attempts, 0) AS earlier_attempts
FROM this_quarter AS t
LEFT JOIN patient_history AS h USING (patient_id)
WHERE (t.first_time AND h.patient_id IS NULL)
   OR (h.patient_id IS NOT NULL AND NOT coalesce(h.done, false) AND (NOT h.ever_listed OR h.attempts < getvariable('max_attempts')))
   -- over the threshold, never on a list because the GP had excluded them: once the exclusion
   -- ended or was lifted, they come on the list as a first-time crosser would have
   OR (t.over_threshold AND NOT t.first_time AND NOT t.baseline AND h.patient_id IS NULL
       AND t.patient_id IN (SELECT x.patient_id FROM exclusions AS x WHERE x.practice_id = getvariable('practice_id')))
UNION ALL
SELECT patient_id, 'baseline', 'baseline', 0 FROM this_quarter WHERE baseline;

-- the characteristics that hold, long, in the profile's order
CREATE OR REPLACE TEMP TABLE holding AS
SELECT f.patient_id, f.characteristic, ch.label, ch.scored, ch.position
FROM (
    UNPIVOT (SELECT patient_id, COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
             FROM this_quarter WHERE patient_id IN (SELECT patient_id FROM candidates))
    ON COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
    INTO NAME characteristic VALUE holds
) AS f
JOIN profile_characteristics AS ch USING (characteristic)
WHERE f.holds;

CREATE OR REPLACE TEMP TABLE explained AS
SELECT c.patient_id,
       coalesce((SELECT string_agg(h.label, '; ' ORDER BY h.position) FROM holding AS h
                 WHERE h.patient_id = c.patient_id AND h.scored), '') AS reasons,
       coalesce((SELECT string_agg(h.label, '; ' ORDER BY h.position) FROM holding AS h
                 WHERE h.patient_id = c.patient_id AND NOT h.scored), '') AS notes,
       coalesce((SELECT string_agg(DISTINCT s.text, '; ' ORDER BY s.text) FROM holding AS h
                 JOIN profile_next_steps AS s ON s.characteristic = h.characteristic
                 WHERE h.patient_id = c.patient_id
                   AND (s.with_characteristic IS NULL
                        OR EXISTS (SELECT 1 FROM holding AS w WHERE w.patient_id = c.patient_id
                                   AND w.characteristic = s.with_characteristic))), '') AS next_steps
FROM (SELECT DISTINCT patient_id FROM candidates) AS c;

CREATE OR REPLACE TEMP TABLE built_list AS
SELECT getvariable('practice_id') AS practice_id, getvariable('quarter') AS quarter, c.patient_id,
       getvariable('profile_name') AS profile_name, getvariable('profile_version') AS profile_version,
       c.list_kind, c.inclusion,
       CAST(row_number() OVER (PARTITION BY c.list_kind
            ORDER BY r.predicted_risk DESC NULLS LAST, t.score DESC, t.age DESC, c.patient_id) AS INTEGER) AS rank,
       r.predicted_risk, r.model_version,
       t.score, t.age, t.sex, e.reasons, e.next_steps, e.notes, t.first_crossed_quarter, c.earlier_attempts,
       current_timestamp AS created_at
FROM candidates AS c
JOIN this_quarter AS t USING (patient_id)
JOIN explained AS e USING (patient_id)
LEFT JOIN risk_scores AS r
  ON r.practice_id = getvariable('practice_id') AND r.quarter = getvariable('quarter') AND r.patient_id = c.patient_id
 AND getvariable('use_risk_model');
