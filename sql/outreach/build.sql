-- The outreach lists of a batch of practices of a quarter (temp table list_batch: practice_id,
-- quarter, capacity; one row per practice), as docs/outreach.md says, each practice on its own:
-- its patients, its history, its ranking (pseudonyms are unique only within a practice, so
-- every patient is keyed by (practice_id, patient_id)).
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
--   capacity (NULL = no limit): the first `capacity` are listed; the rest roll to next quarter
--          (sql/outreach/write.sql).
-- The baseline list (the practice's first quarter: already over the threshold before) is separate.
-- Variables: profile_name, profile_version, characteristic_ids, max_attempts, final_outcomes,
-- use_risk_model (the risk model belongs to the primary profile; other profiles' lists ignore it).
-- Input: list_batch, screening, outreach_lists, outreach_outcomes, risk_scores, exclusions,
--        profile_characteristics, profile_next_steps.

CREATE OR REPLACE TEMP TABLE this_quarter AS
SELECT s.* FROM screening AS s
SEMI JOIN list_batch AS b USING (practice_id, quarter)
WHERE s.profile_name = getvariable('profile_name') AND s.profile_version = getvariable('profile_version')
  -- the GP's exclusions: nobody excluded on the quarter's reference date gets on any list
  AND NOT EXISTS (SELECT 1 FROM current_exclusions AS x
                  WHERE x.practice_id = s.practice_id AND x.patient_id = s.patient_id
                    AND (x.reason <> 'tijdelijk' OR x.until >= omu_quarter_end(s.quarter)));

CREATE OR REPLACE TEMP TABLE patient_history AS
SELECT l.practice_id, l.patient_id,
       bool_or(list_contains(getvariable('final_outcomes'), o.outcome)) AS done,
       count(*) FILTER (WHERE l.listed AND NOT coalesce(list_contains(getvariable('final_outcomes'), o.outcome), false))
           AS attempts,
       bool_or(l.listed) AS ever_listed,
       arg_max(o.outcome, l.quarter) FILTER (WHERE l.listed) AS last_outcome
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id, profile_name, profile_version)
JOIN list_batch AS b ON b.practice_id = l.practice_id AND l.quarter < b.quarter
WHERE l.list_kind = 'outreach'
  AND l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
GROUP BY l.practice_id, l.patient_id;

CREATE OR REPLACE TEMP TABLE candidates AS
SELECT t.practice_id, t.patient_id, 'outreach' AS list_kind,
       CASE WHEN h.patient_id IS NULL AND NOT t.first_time THEN 'na_uitsluiting'
            WHEN h.patient_id IS NULL THEN 'nieuw'
            WHEN NOT h.ever_listed THEN 'doorgeschoven'
            WHEN h.last_outcome IS NOT NULL THEN 'niet_bereikt'  -- handed back, not final
            ELSE 'geen_uitkomst' END AS inclusion,
       coalesce(h.attempts, 0) AS earlier_attempts
FROM this_quarter AS t
LEFT JOIN patient_history AS h USING (practice_id, patient_id)
WHERE (t.first_time AND h.patient_id IS NULL)
   OR (h.patient_id IS NOT NULL AND NOT coalesce(h.done, false) AND (NOT h.ever_listed OR h.attempts < getvariable('max_attempts')))
   -- over the threshold, never on a list because the GP had excluded them: once the exclusion
   -- ended or was lifted, they come on the list as a first-time crosser would have
   OR (t.over_threshold AND NOT t.first_time AND NOT t.baseline AND h.patient_id IS NULL
       AND EXISTS (SELECT 1 FROM exclusions AS x WHERE x.practice_id = t.practice_id AND x.patient_id = t.patient_id))
UNION ALL
SELECT practice_id, patient_id, 'baseline', 'baseline', 0 FROM this_quarter WHERE baseline;

-- the characteristics that hold, long, in the profile's order
CREATE OR REPLACE TEMP TABLE holding AS
SELECT f.practice_id, f.patient_id, f.characteristic, ch.label, ch.scored, ch.position
FROM (
    UNPIVOT (SELECT t.practice_id, t.patient_id, COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
             FROM this_quarter AS t SEMI JOIN candidates AS c USING (practice_id, patient_id))
    ON COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
    INTO NAME characteristic VALUE holds
) AS f
JOIN profile_characteristics AS ch USING (characteristic)
WHERE f.holds;

CREATE OR REPLACE TEMP TABLE explained AS
SELECT c.practice_id, c.patient_id,
       coalesce((SELECT string_agg(h.label, '; ' ORDER BY h.position) FROM holding AS h
                 WHERE h.practice_id = c.practice_id AND h.patient_id = c.patient_id AND h.scored), '') AS reasons,
       coalesce((SELECT string_agg(h.label, '; ' ORDER BY h.position) FROM holding AS h
                 WHERE h.practice_id = c.practice_id AND h.patient_id = c.patient_id AND NOT h.scored), '') AS notes,
       coalesce((SELECT string_agg(DISTINCT s.text, '; ' ORDER BY s.text) FROM holding AS h
                 JOIN profile_next_steps AS s ON s.characteristic = h.characteristic
                 WHERE h.practice_id = c.practice_id AND h.patient_id = c.patient_id
                   AND (s.with_characteristic IS NULL
                        OR EXISTS (SELECT 1 FROM holding AS w
                                   WHERE w.practice_id = c.practice_id AND w.patient_id = c.patient_id
                                     AND w.characteristic = s.with_characteristic))), '') AS next_steps
FROM (SELECT DISTINCT practice_id, patient_id FROM candidates) AS c;

-- ranked within each practice's list
CREATE OR REPLACE TEMP TABLE built_list AS
SELECT c.practice_id, t.quarter, c.patient_id,
       getvariable('profile_name') AS profile_name, getvariable('profile_version') AS profile_version,
       c.list_kind, c.inclusion,
       CAST(row_number() OVER (PARTITION BY c.practice_id, c.list_kind
            ORDER BY r.predicted_risk DESC NULLS LAST, t.score DESC, t.age DESC, c.patient_id) AS INTEGER) AS rank,
       r.predicted_risk, r.model_version,
       t.score, t.age, t.sex, e.reasons, e.next_steps, e.notes, t.first_crossed_quarter, c.earlier_attempts,
       current_timestamp AS created_at
FROM candidates AS c
JOIN this_quarter AS t USING (practice_id, patient_id)
JOIN explained AS e USING (practice_id, patient_id)
LEFT JOIN risk_scores AS r
  ON r.practice_id = c.practice_id AND r.quarter = t.quarter AND r.patient_id = c.patient_id
 AND getvariable('use_risk_model');
