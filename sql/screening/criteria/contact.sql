-- contact(window_days[, codelist][, min_count]): at least min_count (default 1) contacts in the
-- window reference_date - window_days <= contact_on <= reference_date, of a kind in the codelist
-- when one is given. With absent: true this reads "no contact for over window_days days".
INSERT INTO criterion_hits
SELECT pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no
FROM population AS pop
JOIN contacts AS ct
  ON ct.practice_id = pop.practice_id AND ct.quarter = pop.source_quarter AND ct.patient_id = pop.patient_id
JOIN profile_criteria AS c ON c.type = 'contact'
WHERE ct.contact_on BETWEEN pop.reference_date - c.window_days AND pop.reference_date
  AND (c.codelist IS NULL OR ct.kind IN (SELECT code FROM codelist_codes AS k WHERE k.codelist = c.codelist))
GROUP BY pop.practice_id, pop.quarter, pop.patient_id, c.characteristic, c.criterion_no, c.min_count
HAVING count(*) >= coalesce(c.min_count, 1);
