-- Characteristics from criteria, then the score: a characteristic holds when all its criteria
-- hold (a criterion marked absent must not hold); score = sum of the weights of the scored
-- characteristics that hold; over_threshold = score >= threshold.
-- Variables: profile_name, profile_version, threshold.
CREATE OR REPLACE TEMP TABLE characteristic_flags AS
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic,
       bool_and((h.patient_id IS NOT NULL) <> c.absent) AS flag
FROM population AS pop
CROSS JOIN profile_criteria AS c
LEFT JOIN criterion_hits AS h
  ON h.practice_id = pop.practice_id AND h.quarter = pop.quarter AND h.patient_id = pop.patient_id
 AND h.characteristic = c.characteristic AND h.criterion_no = c.criterion_no
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE scores AS
SELECT f.practice_id, f.quarter, f.patient_id,
       CAST(sum(CASE WHEN f.flag AND ch.scored THEN ch.weight ELSE 0 END) AS INTEGER) AS score
FROM characteristic_flags AS f
JOIN profile_characteristics AS ch ON ch.characteristic = f.characteristic
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE flags_wide AS
PIVOT characteristic_flags ON characteristic USING bool_or(flag) GROUP BY practice_id, quarter, patient_id;

CREATE OR REPLACE TEMP TABLE scored AS
SELECT pop.practice_id, pop.quarter, pop.patient_id,
       getvariable('profile_name') AS profile_name, getvariable('profile_version') AS profile_version,
       pop.reference_date, pop.source_quarter, pop.backfilled, pop.age, pop.sex, pop.wijk_code,
       w.* EXCLUDE (practice_id, quarter, patient_id),
       s.score, s.score >= getvariable('threshold') AS over_threshold,
       current_timestamp AS screened_at
FROM population AS pop
JOIN flags_wide AS w USING (practice_id, quarter, patient_id)
JOIN scores AS s USING (practice_id, quarter, patient_id);
