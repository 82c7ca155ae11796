-- Characteristics from criteria, then the score. A characteristic holds when all its criteria
-- hold; a criterion holds when it has a hit, or (marked absent) when it has none. Worked from the
-- hits alone (sparse), never from every patient x criterion: a patient without any hit has the
-- characteristics that consist only of absent criteria, and nothing else.
-- score = sum of the weights of the scored characteristics that hold; over_threshold = score >= threshold.
-- Variables: profile_name, profile_version, threshold, characteristic_ids.
CREATE OR REPLACE TEMP TABLE characteristic_rules AS
SELECT ch.characteristic, ch.weight, ch.scored,
       count(*) FILTER (WHERE NOT c.absent) AS n_present,
       count(*) FILTER (WHERE NOT c.absent) = 0 AS holds_without_hits
FROM profile_characteristics AS ch
JOIN profile_criteria AS c USING (characteristic)
WHERE c.parent_no IS NULL  -- the criteria of an either_of count through it
GROUP BY ALL;

-- (patient, characteristic) pairs that hold
CREATE OR REPLACE TEMP TABLE characteristic_flags AS
WITH with_hits AS (
    SELECT h.practice_id, h.quarter, h.patient_id, h.characteristic,
           count(DISTINCT h.criterion_no) FILTER (WHERE NOT c.absent) = any_value(r.n_present)
               AND count(*) FILTER (WHERE c.absent) = 0 AS holds
    FROM criterion_hits AS h
    JOIN profile_criteria AS c USING (characteristic, criterion_no)
    JOIN characteristic_rules AS r USING (characteristic)
    WHERE c.parent_no IS NULL
    GROUP BY h.practice_id, h.quarter, h.patient_id, h.characteristic
)
SELECT practice_id, quarter, patient_id, characteristic FROM with_hits WHERE holds
UNION ALL
SELECT pop.practice_id, pop.quarter, pop.patient_id, r.characteristic
FROM population AS pop
JOIN characteristic_rules AS r ON r.holds_without_hits
WHERE NOT EXISTS (SELECT 1 FROM with_hits AS w
                  WHERE w.practice_id = pop.practice_id AND w.quarter = pop.quarter
                    AND w.patient_id = pop.patient_id AND w.characteristic = r.characteristic);

CREATE OR REPLACE TEMP TABLE scores AS
SELECT f.practice_id, f.quarter, f.patient_id, CAST(sum(r.weight) FILTER (WHERE r.scored) AS INTEGER) AS score
FROM characteristic_flags AS f
JOIN characteristic_rules AS r USING (characteristic)
GROUP BY ALL;

-- one boolean column per characteristic (a row per characteristic without a patient makes sure
-- every column exists, also when nobody has that characteristic)
CREATE OR REPLACE TEMP TABLE flags_wide AS
PIVOT (
    SELECT practice_id, quarter, patient_id, characteristic, true AS holds FROM characteristic_flags
    UNION ALL
    SELECT NULL, NULL, NULL, characteristic, NULL FROM characteristic_rules
) ON characteristic USING bool_or(holds) GROUP BY practice_id, quarter, patient_id;

CREATE OR REPLACE TEMP TABLE scored AS
SELECT pop.practice_id, pop.quarter, pop.patient_id,
       getvariable('profile_name') AS profile_name, getvariable('profile_version') AS profile_version,
       pop.reference_date, pop.source_quarter, pop.backfilled, pop.age, pop.sex, pop.wijk_code,
       coalesce(COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c)), false),
       coalesce(s.score, 0) AS score, coalesce(s.score, 0) >= getvariable('threshold') AS over_threshold,
       current_timestamp AS screened_at
FROM population AS pop
LEFT JOIN flags_wide AS w USING (practice_id, quarter, patient_id)
LEFT JOIN scores AS s USING (practice_id, quarter, patient_id);
