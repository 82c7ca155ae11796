-- distinct_medicines(window_days, min_count): at least min_count different ATC codes prescribed
-- in the window reference_date - window_days <= prescribed_on <= reference_date.
INSERT INTO criterion_hits
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no
FROM population AS pop
JOIN prescriptions AS rx
  ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'distinct_medicines'
WHERE rx.prescribed_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date
GROUP BY pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no, c.min_count
HAVING count(DISTINCT rx.atc) >= c.min_count;
