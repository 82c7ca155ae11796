-- prescription(codelist, window_days[, min_count][, min_quantity]): prescriptions whose ATC code
-- starts with a code of the codelist, issued in the window
-- reference_date - window_days <= prescribed_on <= reference_date; at least min_count of them
-- (default 1) and, when given, at least min_quantity units in total (a missing quantity counts 1).
INSERT INTO criterion_hits
WITH matched AS (
    SELECT DISTINCT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
           c.min_count, c.min_quantity, rx.line, rx.quantity
    FROM population AS pop
    JOIN prescriptions AS rx
      ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
    JOIN profile_criteria AS c ON c.type = 'prescription'
    JOIN codelist_codes AS cl ON cl.codelist = c.codelist AND starts_with(rx.atc, cl.code)
    WHERE rx.prescribed_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date
)
SELECT practice_id, quarter, patient_id, characteristic, criterion_no
FROM matched
GROUP BY practice_id, quarter, patient_id, characteristic, criterion_no, min_count, min_quantity
HAVING count(*) >= coalesce(min_count, 1)
   AND (min_quantity IS NULL OR sum(coalesce(quantity, 1)) >= min_quantity);
