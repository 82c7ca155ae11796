-- prescription(codelist, window_days[, min_count][, min_quantity]): prescriptions whose ATC code
-- starts with a code of the codelist, issued in the window
-- reference_date - window_days <= prescribed_on <= reference_date; at least min_count of them
-- (default 1) and, when given, at least min_quantity units in total (a missing quantity counts 1).
-- For "at least 2 prescriptions OR at least 2 units" combine two of them with either_of.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT DISTINCT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'prescription' AS record, rx.atc AS code, NULL AS value, rx.prescribed_on AS date, NULL::DATE AS until,
       rx.quantity, rx.line
FROM population AS pop
JOIN prescriptions AS rx
  ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'prescription'
JOIN codelist_codes AS cl ON cl.codelist = c.codelist AND starts_with(rx.atc, cl.code)
WHERE rx.prescribed_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date;

INSERT INTO criterion_hits
SELECT m.practice_id, m.quarter, m.patient_id, m.characteristic, m.criterion_no
FROM criterion_matched AS m
JOIN profile_criteria AS c USING (characteristic, criterion_no)
GROUP BY ALL
HAVING count(*) >= coalesce(any_value(c.min_count), 1)
   AND (any_value(c.min_quantity) IS NULL OR sum(coalesce(m.quantity, 1)) >= any_value(c.min_quantity));
