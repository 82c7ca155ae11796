-- distinct_medicines(window_days, min_count): at least min_count different ATC codes prescribed
-- in the window reference_date - window_days <= prescribed_on <= reference_date.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'prescription' AS record, rx.atc AS code, NULL AS value, rx.prescribed_on AS date, NULL::DATE AS until,
       rx.quantity, rx.line
FROM population AS pop
JOIN prescriptions AS rx
  ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'distinct_medicines'
WHERE rx.prescribed_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date;

INSERT INTO criterion_hits
SELECT m.practice_id, m.quarter, m.patient_id, m.characteristic, m.criterion_no
FROM criterion_matched AS m
JOIN profile_criteria AS c USING (characteristic, criterion_no)
GROUP BY ALL
HAVING count(DISTINCT m.code) >= any_value(c.min_count);
