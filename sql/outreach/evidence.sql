-- The evidence and the history on the lists, in Dutch, per listed patient of each practice of the batch.
-- Input: list_batch, built_list (sql/outreach/build.sql), list_evidence_records (the records behind every
-- characteristic that holds, from the screening's own criteria SQL: omu.screening.screen.
-- screening_evidence), profile_characteristics, profile_criteria, codelist_codes,
-- outreach_lists, outreach_outcomes. Variables: profile_name, profile_version, characteristic_ids.
--   per reason: "gebruikt bètablokker: metoprolol (C07AB02), laatst 14-08-2026"
--   history:    "2026Q2: op de lijst; 12-05-2026 niet_bereikt (voicemail)"

CREATE OR REPLACE TEMP MACRO omu_nl_date(d) AS strftime(d, '%d-%m-%Y');
-- a code's name: the description of the longest codelist code it falls under, without its remark
CREATE OR REPLACE TEMP MACRO omu_code_name(record_kind, record_code) AS (
    SELECT regexp_replace(arg_max(cl.description, length(cl.code)), '\s*\(.*$', '')
    FROM codelist_codes AS cl
    WHERE cl.value IS NULL
      AND CASE record_kind WHEN 'prescription' THEN starts_with(record_code, cl.code)
                           WHEN 'episode' THEN omu_icpc_matches(record_code, cl.code) ELSE false END
);

CREATE OR REPLACE TEMP TABLE list_evidence_items AS
WITH records AS (
    SELECT practice_id, patient_id, characteristic, criterion_no, record, code,
           any_value(value) AS value, count(*) AS n, sum(quantity) AS quantity,
           min(date) AS first_date, max(date) AS last_date, max(until) AS until
    FROM (  -- a record counted by two criteria of one either_of is one record
        SELECT DISTINCT e.practice_id, e.patient_id, e.characteristic, coalesce(c.parent_no, e.criterion_no) AS criterion_no,
               e.record, e.code, e.value, e.date, e.until, e.quantity, e.line
        FROM list_evidence_records AS e
        JOIN profile_criteria AS c USING (characteristic, criterion_no)
    )
    GROUP BY ALL
)
SELECT practice_id, patient_id, characteristic, criterion_no, last_date,
       CASE record
           WHEN 'age' THEN 'leeftijd ' || code
           WHEN 'prescription' THEN coalesce(omu_code_name(record, code), 'geneesmiddel') || ' (' || code || ')'
               || CASE WHEN n > 1 THEN ', ' || n || ' voorschriften' ELSE '' END
               || CASE WHEN quantity IS NULL OR quantity = n THEN ''
                       ELSE CASE WHEN n > 1 THEN ', samen ' ELSE ', ' END
                            || CASE WHEN quantity = round(quantity) THEN CAST(quantity AS BIGINT)::VARCHAR
                                    ELSE replace(quantity::VARCHAR, '.', ',') END || ' stuks' END
               || ', ' || CASE WHEN n > 1 THEN 'laatst ' ELSE '' END || omu_nl_date(last_date)
           WHEN 'episode' THEN 'episode ' || code || coalesce(' ' || omu_code_name(record, code), '')
               || ' sinds ' || omu_nl_date(first_date)
               || CASE WHEN until IS NOT NULL THEN ' tot ' || omu_nl_date(until) ELSE '' END
           WHEN 'determination' THEN 'bepaling ' || code || ' = ' || value || ', ' || omu_nl_date(last_date)
           WHEN 'contact' THEN code || ' ' || CASE WHEN n > 1 THEN n || 'x, laatst ' ELSE '' END
               || omu_nl_date(last_date)
       END AS item
FROM records
UNION ALL
-- a criterion that holds without a record: an absence, or "at most n contacts" with none
SELECT l.practice_id, l.patient_id, c.characteristic, c.criterion_no, NULL,
       CASE WHEN c.absent THEN 'geen ' || CASE c.type WHEN 'prescription' THEN 'voorschrift'
                                                      WHEN 'contact' THEN 'contact' ELSE 'gegeven' END
                           || coalesce(' uit ' || c.codelist, '')
                           || coalesce(' in ' || c.window_days || ' dagen', '')
            ELSE 'geen contact' || coalesce(' in ' || c.window_days || ' dagen', '') END
FROM built_list AS l
JOIN (UNPIVOT (SELECT s.practice_id, s.patient_id,
                      COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
               FROM screening AS s
               SEMI JOIN list_batch AS b USING (practice_id, quarter)
               WHERE s.profile_name = getvariable('profile_name')
                 AND s.profile_version = getvariable('profile_version'))
      ON COLUMNS(lambda c: list_contains(getvariable('characteristic_ids'), c))
      INTO NAME characteristic VALUE holds) AS f
  ON f.practice_id = l.practice_id AND f.patient_id = l.patient_id AND f.holds
JOIN profile_criteria AS c ON c.characteristic = f.characteristic AND c.parent_no IS NULL
WHERE (c.absent OR (c.type = 'contact' AND c.max_count IS NOT NULL))
  AND NOT EXISTS (SELECT 1 FROM list_evidence_records AS e
                  WHERE e.practice_id = l.practice_id AND e.patient_id = l.patient_id
                    AND e.characteristic = c.characteristic
                    AND e.criterion_no = c.criterion_no);

CREATE OR REPLACE TEMP TABLE list_evidence AS
SELECT practice_id, patient_id, string_agg(text, chr(10) ORDER BY position) AS evidence
FROM (
    SELECT i.practice_id, i.patient_id, ch.position,
           ch.label || ': ' || string_agg(DISTINCT i.item, '; ' ORDER BY i.item) AS text
    FROM list_evidence_items AS i
    JOIN profile_characteristics AS ch USING (characteristic)
    GROUP BY i.practice_id, i.patient_id, ch.position, ch.label
)
GROUP BY practice_id, patient_id;

-- every earlier quarter of this profile's lists of the practice: listed, each attempt and outcome
CREATE OR REPLACE TEMP TABLE list_history AS
SELECT l.practice_id, l.patient_id,
       string_agg(l.quarter || ': '
                  || CASE WHEN l.list_kind = 'baseline' THEN 'startlijst'
                          WHEN NOT l.listed THEN 'doorgeschoven (capaciteit)' ELSE 'op de lijst' END
                  || CASE WHEN o.outcome IS NULL THEN CASE WHEN l.listed THEN '; geen uitkomst teruggemeld' ELSE '' END
                          ELSE '; ' || coalesce(omu_nl_date(o.outcome_date) || ' ', '') || o.outcome
                               || coalesce(' (' || o.referral_target || ')', '')
                               || coalesce(' - ' || o.note, '') END,
                  chr(10) ORDER BY l.quarter, l.list_kind DESC) AS history
FROM outreach_lists AS l
LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id, profile_name, profile_version)
JOIN list_batch AS b ON b.practice_id = l.practice_id AND l.quarter < b.quarter
WHERE l.profile_name = getvariable('profile_name') AND l.profile_version = getvariable('profile_version')
  AND EXISTS (SELECT 1 FROM built_list AS n WHERE n.practice_id = l.practice_id AND n.patient_id = l.patient_id)
GROUP BY l.practice_id, l.patient_id;

ALTER TABLE built_list ADD COLUMN evidence VARCHAR;
ALTER TABLE built_list ADD COLUMN history VARCHAR;
UPDATE built_list AS b SET evidence = e.evidence FROM list_evidence AS e
WHERE e.practice_id = b.practice_id AND e.patient_id = b.patient_id;
UPDATE built_list AS b SET history = h.history FROM list_history AS h
WHERE h.practice_id = b.practice_id AND h.patient_id = b.patient_id;
