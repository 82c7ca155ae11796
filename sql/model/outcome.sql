-- The outcome per patient registered on each reference date R of screen_work, read from the
-- delivery the work names: an event in the window R < date <= R + window_days, either a contact
-- whose kind is in the outcome's contact codelist or an episode STARTING in the window with a
-- code of its episode codelist (sub-codes count). Only sql/model/work_training.sql's work is
-- used to learn, where the window has passed by the delivery's extraction date.
-- Input: population, model_codes (role, code). Variables: window_days.
CREATE OR REPLACE TEMP TABLE model_outcomes AS
WITH events AS (
    SELECT pop.practice_id, pop.quarter, pop.patient_id
    FROM population AS pop
    JOIN contacts AS ct
      ON ct.practice_id = pop.practice_id AND ct.quarter = pop.source_quarter AND ct.patient_id = pop.patient_id
    WHERE ct.contact_on > pop.reference_date
      AND ct.contact_on <= pop.reference_date + getvariable('window_days')::INTEGER
      AND ct.kind IN (SELECT code FROM model_codes WHERE role = 'contact_kind')
    UNION
    SELECT pop.practice_id, pop.quarter, pop.patient_id
    FROM population AS pop
    JOIN episodes AS e
      ON e.practice_id = pop.practice_id AND e.quarter = pop.source_quarter AND e.patient_id = pop.patient_id
    JOIN model_codes AS k
      ON k.role = 'episode' AND omu_icpc_matches(e.icpc, k.code)
    WHERE e.start_date > pop.reference_date
      AND e.start_date <= pop.reference_date + getvariable('window_days')::INTEGER
)
SELECT pop.practice_id, pop.quarter, pop.patient_id,
       EXISTS (SELECT 1 FROM events AS ev
               WHERE ev.practice_id = pop.practice_id AND ev.quarter = pop.quarter
                 AND ev.patient_id = pop.patient_id) AS outcome
FROM population AS pop;
