-- either_of(criteria): holds when at least one of its criteria holds. Runs after every other
-- type: its criteria (criterion_no = 100 x its own number + k, parent_no = its own number) have
-- their hits by then. Their evidence is kept under their own numbers.
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT NULL::VARCHAR AS practice_id, NULL::VARCHAR AS quarter, NULL::VARCHAR AS patient_id,
       NULL::VARCHAR AS characteristic, NULL::INTEGER AS criterion_no, NULL::VARCHAR AS record,
       NULL::VARCHAR AS code, NULL::VARCHAR AS value, NULL::DATE AS date, NULL::DATE AS until,
       NULL::DOUBLE AS quantity, NULL::BIGINT AS line
WHERE false;

INSERT INTO criterion_hits
SELECT DISTINCT h.practice_id, h.quarter, h.patient_id, h.characteristic, c.parent_no
FROM criterion_hits AS h
JOIN profile_criteria AS c USING (characteristic, criterion_no)
WHERE c.parent_no IS NOT NULL;
