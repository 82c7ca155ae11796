-- contact(window_days[, codelist][, min_count][, max_count]): the contacts in the window
-- reference_date - window_days <= contact_on <= reference_date, of a kind in the codelist when one
-- is given, number at least min_count (default 1) and, when max_count is given, at most max_count
-- (0 contacts included: max_count 1 reads "at most one contact"). With absent: true this reads
-- "no contact for over window_days days".
CREATE OR REPLACE TEMP TABLE criterion_matched AS
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no,
       'contact' AS record, ct.kind AS code, NULL AS value, ct.contact_on AS date, NULL::DATE AS until,
       NULL::DOUBLE AS quantity, ct.line
FROM population AS pop
JOIN contacts AS ct
  ON ct.practice_id = pop.practice_id AND ct.quarter = pop.source_quarter AND ct.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'contact'
WHERE ct.contact_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date
  AND (c.codelist IS NULL OR ct.kind IN (SELECT code FROM codelist_codes AS k WHERE k.codelist = c.codelist));

INSERT INTO criterion_hits
SELECT m.practice_id, m.quarter, m.patient_id, m.characteristic, m.criterion_no
FROM criterion_matched AS m
JOIN profile_criteria AS c USING (characteristic, criterion_no)
GROUP BY ALL
HAVING count(*) >= coalesce(any_value(c.min_count), 1) AND count(*) <= coalesce(any_value(c.max_count), count(*))
UNION ALL
-- "at most max_count" (with no minimum above 0) also holds for someone without any contact
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no
FROM population AS pop
JOIN profile_criteria AS c ON c.type = 'contact' AND c.max_count IS NOT NULL AND c.min_count IS NULL
WHERE NOT EXISTS (SELECT 1 FROM criterion_matched AS m
                  WHERE m.practice_id = pop.practice_id AND m.quarter = pop.quarter AND m.patient_id = pop.patient_id
                    AND m.characteristic = c.characteristic AND m.criterion_no = c.criterion_no);
