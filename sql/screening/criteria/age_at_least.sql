-- age_at_least(years): age in completed years on the reference date >= years.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'age' AS record, pop.age::VARCHAR AS code, NULL AS value, NULL::DATE AS date, NULL::DATE AS until,
       NULL::DOUBLE AS quantity, NULL::BIGINT AS line
FROM population AS pop
JOIN profile_criteria AS c ON c.type = 'age_at_least'
WHERE pop.age >= c.years;

INSERT INTO criterion_hits
SELECT practice_id, quarter, patient_id, characteristic, criterion_no FROM criterion_matched;
