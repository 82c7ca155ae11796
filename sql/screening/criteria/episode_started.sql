-- episode_started(codelist, window_days): an episode with a code in the codelist (sub-codes
-- count) that started in the window: reference_date - window_days <= start_date <= reference_date.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT DISTINCT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'episode' AS record, e.icpc AS code, NULL AS value, e.start_date AS date, e.end_date AS until,
       NULL::DOUBLE AS quantity, e.line
FROM population AS pop
JOIN episodes AS e
  ON e.practice_id = pop.practice_id AND e.quarter = pop.source_quarter AND e.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'episode_started'
JOIN codelist_codes AS cl
  ON cl.codelist = c.codelist AND omu_icpc_matches(e.icpc, cl.code)
WHERE e.start_date BETWEEN pop.reference_date - c.window_days AND pop.reference_date;

INSERT INTO criterion_hits
SELECT DISTINCT practice_id, quarter, patient_id, characteristic, criterion_no FROM criterion_matched;
