-- age_range(min_years, max_years): min_years <= age <= max_years, age in completed years on the
-- reference date (both bounds included: 12-40 holds for a 12-year-old and a 40-year-old).
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'age' AS record, pop.age::VARCHAR AS code, NULL AS value, NULL::DATE AS date, NULL::DATE AS until,
       NULL::DOUBLE AS quantity, NULL::BIGINT AS line
FROM population AS pop
JOIN profile_criteria AS c ON c.type = 'age_range'
WHERE pop.age BETWEEN c.min_years AND c.max_years;

INSERT INTO criterion_hits
SELECT practice_id, quarter, patient_id, characteristic, criterion_no FROM criterion_matched;
