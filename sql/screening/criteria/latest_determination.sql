-- latest_determination(codelist[, window_days]): among the patient's determinations with a code
-- of the codelist measured on or before the reference date (and within the window when given),
-- the LATEST one decides: it counts when its (code, value) is in the codelist, values compared
-- case-insensitively and trimmed. Several answers on that latest date: any listed one counts.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
WITH answers AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no, c.codelist,
           CAST(d.code AS VARCHAR) AS code, d.value AS raw_value, lower(trim(d.value)) AS value, d.measured_on,
           d.line
    FROM population AS pop
    JOIN determinations AS d
      ON d.practice_id = pop.practice_id AND d.quarter = pop.source_quarter AND d.patient_id = pop.patient_id
    JOIN profile_criteria AS c ON c.type = 'latest_determination'
    WHERE d.measured_on <= pop.reference_date
      AND (c.window_days IS NULL OR d.measured_on >= pop.reference_date - c.window_days)
      AND CAST(d.code AS VARCHAR) IN (SELECT code FROM codelist_codes AS k WHERE k.codelist = c.codelist)
),
latest AS (
    SELECT * FROM answers
    QUALIFY rank() OVER (PARTITION BY practice_id, quarter, patient_id, characteristic, criterion_no
                         ORDER BY measured_on DESC) = 1
)
SELECT DISTINCT l.practice_id, l.quarter, l.patient_id, l.characteristic, l.criterion_no,
       'determination' AS record, l.code, l.raw_value AS value, l.measured_on AS date, NULL::DATE AS until,
       NULL::DOUBLE AS quantity, l.line
FROM latest AS l
JOIN codelist_codes AS cl
  ON cl.codelist = l.codelist AND cl.code = l.code AND cl.value = l.value;

INSERT INTO criterion_hits
SELECT DISTINCT practice_id, quarter, patient_id, characteristic, criterion_no FROM criterion_matched;
