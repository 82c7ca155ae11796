-- age_at_least(years): age in completed years on the reference date >= years.
INSERT INTO criterion_hits
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no
FROM population AS pop
JOIN profile_criteria AS c ON c.type = 'age_at_least'
WHERE pop.age >= c.years;
