-- After each criterion type: keep the records (criterion_matched) of the criteria that hit, when
-- evidence is asked for (lists, omu explain). One statement for every type, so the evidence is
-- exactly the rows the hits were counted from. Variable: keep_evidence.
INSERT INTO criterion_evidence BY NAME
SELECT m.practice_id, m.quarter, m.patient_id, m.characteristic, m.criterion_no, m.record, m.code, m.value,
       m.date, m.until, m.quantity, m.line
FROM criterion_matched AS m
SEMI JOIN criterion_hits AS h USING (practice_id, quarter, patient_id, characteristic, criterion_no)
WHERE getvariable('keep_evidence') AND m.record IS NOT NULL;
