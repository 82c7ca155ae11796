-- The evidence behind each criterion for one patient on one reference date (omu explain):
-- every record a criterion looked at, and whether it counted. Reads the delivery the score was
-- computed from. Variables: practice_id, patient_id, source_quarter, reference_date.
-- Input: profile_criteria, codelist_codes.
WITH me AS (
    SELECT * FROM patients
    WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('source_quarter')
      AND patient_id = getvariable('patient_id')
),
ref AS (SELECT getvariable('reference_date')::DATE AS d)
SELECT c.characteristic, c.criterion_no, c.type, 'age' AS record,
       'birth ' || me.birth_year || coalesce('-' || lpad(me.birth_month::VARCHAR, 2, '0'), ' (month unknown)') AS code,
       NULL::DATE AS date, NULL::DATE AS until, 'needs age >= ' || c.years AS detail,
       (year(ref.d) - me.birth_year - CASE WHEN me.birth_month > month(ref.d) THEN 1 ELSE 0 END) >= c.years AS counts
FROM profile_criteria AS c, me, ref
WHERE c.type = 'age_at_least'

UNION ALL
SELECT c.characteristic, c.criterion_no, c.type, 'episode', e.icpc, e.start_date, e.end_date,
       CASE WHEN c.type = 'active_episode' THEN 'active on ' || ref.d
            ELSE 'started within ' || c.window_days || ' days before ' || ref.d END,
       CASE WHEN c.type = 'active_episode'
            THEN e.start_date <= ref.d AND (e.end_date IS NULL OR e.end_date >= ref.d)
            ELSE e.start_date BETWEEN ref.d - c.window_days AND ref.d END
FROM profile_criteria AS c
JOIN codelist_codes AS cl ON cl.codelist = c.codelist
JOIN episodes AS e ON omu_icpc_matches(e.icpc, cl.code)
CROSS JOIN ref
WHERE c.type IN ('active_episode', 'episode_started')
  AND e.practice_id = getvariable('practice_id') AND e.quarter = getvariable('source_quarter')
  AND e.patient_id = getvariable('patient_id')

UNION ALL
SELECT DISTINCT c.characteristic, c.criterion_no, c.type, 'prescription', rx.atc, rx.prescribed_on, NULL,
       'quantity ' || coalesce(rx.quantity::VARCHAR, '?') || '; window ' || c.window_days || ' days up to ' || ref.d,
       rx.prescribed_on BETWEEN ref.d - c.window_days AND ref.d
FROM profile_criteria AS c
JOIN codelist_codes AS cl ON cl.codelist = c.codelist
JOIN prescriptions AS rx ON starts_with(rx.atc, cl.code)
CROSS JOIN ref
WHERE c.type = 'prescription'
  AND rx.practice_id = getvariable('practice_id') AND rx.quarter = getvariable('source_quarter')
  AND rx.patient_id = getvariable('patient_id')
  AND rx.prescribed_on BETWEEN ref.d - c.window_days - 365 AND ref.d

UNION ALL
SELECT c.characteristic, c.criterion_no, c.type, 'determination', d.code || ' = ' || d.value, d.measured_on, NULL,
       CASE WHEN d.measured_on > ref.d THEN 'after the reference date'
            WHEN rank() OVER (PARTITION BY c.characteristic, c.criterion_no
                              ORDER BY CASE WHEN d.measured_on <= ref.d THEN d.measured_on END DESC NULLS LAST) = 1
            THEN 'latest answer' ELSE 'earlier answer (the latest one decides)' END,
       d.measured_on <= ref.d
       AND rank() OVER (PARTITION BY c.characteristic, c.criterion_no
                        ORDER BY CASE WHEN d.measured_on <= ref.d THEN d.measured_on END DESC NULLS LAST) = 1
       AND EXISTS (SELECT 1 FROM codelist_codes AS k WHERE k.codelist = c.codelist
                   AND k.code = CAST(d.code AS VARCHAR) AND k.value = lower(trim(d.value)))
FROM profile_criteria AS c
JOIN determinations AS d
  ON CAST(d.code AS VARCHAR) IN (SELECT code FROM codelist_codes AS k WHERE k.codelist = c.codelist)
CROSS JOIN ref
WHERE c.type = 'latest_determination'
  AND d.practice_id = getvariable('practice_id') AND d.quarter = getvariable('source_quarter')
  AND d.patient_id = getvariable('patient_id')

UNION ALL
SELECT c.characteristic, c.criterion_no, c.type, 'contact', ct.kind, ct.contact_on, NULL,
       'window ' || c.window_days || ' days up to ' || ref.d,
       ct.contact_on BETWEEN ref.d - c.window_days AND ref.d
FROM profile_criteria AS c
JOIN contacts AS ct ON c.codelist IS NULL
    OR ct.kind IN (SELECT code FROM codelist_codes AS k WHERE k.codelist = c.codelist)
CROSS JOIN ref
WHERE c.type = 'contact'
  AND ct.practice_id = getvariable('practice_id') AND ct.quarter = getvariable('source_quarter')
  AND ct.patient_id = getvariable('patient_id')
  AND ct.contact_on BETWEEN ref.d - c.window_days AND ref.d

UNION ALL
SELECT c.characteristic, c.criterion_no, c.type, 'prescriptions', count(DISTINCT rx.atc) || ' different ATC codes',
       NULL, NULL, 'needs ' || c.min_count || ' within ' || c.window_days || ' days up to ' || any_value(ref.d),
       count(DISTINCT rx.atc) >= c.min_count
FROM profile_criteria AS c
JOIN prescriptions AS rx ON rx.prescribed_on BETWEEN getvariable('reference_date')::DATE - c.window_days
                                                 AND getvariable('reference_date')::DATE
CROSS JOIN ref
WHERE c.type = 'distinct_medicines'
  AND rx.practice_id = getvariable('practice_id') AND rx.quarter = getvariable('source_quarter')
  AND rx.patient_id = getvariable('patient_id')
GROUP BY c.characteristic, c.criterion_no, c.type, c.min_count, c.window_days

ORDER BY characteristic, criterion_no, date DESC NULLS FIRST
