-- first_prescription(codelist[, window_days]): the patient's FIRST prescription with an ATC code
-- of the codelist ever seen in the delivery (up to the reference date) lies in the window:
-- reference_date - window_days <= prescribed_on <= reference_date, or, without window_days, in the
-- screened quarter itself (its first day up to the reference date). "Ever seen" is as far back as
-- the delivery's history reaches.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT *
FROM (
    SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
           'prescription' AS record, rx.atc AS code, NULL AS value, rx.prescribed_on AS date, NULL::DATE AS until,
           rx.quantity, rx.line, c.window_days, pop.reference_date
    FROM population AS pop
    JOIN prescriptions AS rx
      ON rx.practice_id = pop.practice_id AND rx.quarter = pop.source_quarter AND rx.patient_id = pop.patient_id
    JOIN profile_criteria AS c ON c.type = 'first_prescription'
    WHERE rx.prescribed_on <= pop.reference_date
      AND EXISTS (SELECT 1 FROM codelist_codes AS cl WHERE cl.codelist = c.codelist AND starts_with(rx.atc, cl.code))
    QUALIFY rank() OVER (PARTITION BY pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no
                         ORDER BY rx.prescribed_on) = 1
)
WHERE date >= CASE WHEN window_days IS NULL
                   THEN make_date(year(reference_date), month(reference_date) - 2, 1)
                   ELSE reference_date - window_days END;

INSERT INTO criterion_hits
SELECT DISTINCT practice_id, quarter, patient_id, characteristic, criterion_no FROM criterion_matched;
