-- Write the screened work into the score history: history rows of the planned practices that
-- the plan no longer holds (quarter or source changed) are removed, and the work's quarters are
-- replaced as a whole, so re-running or re-delivering never duplicates history.
-- Variables: profile_name, profile_version. Input: screen_plan, screen_work, scored.
DELETE FROM score_history AS h
WHERE h.profile_name = getvariable('profile_name') AND h.profile_version = getvariable('profile_version')
  AND h.practice_id IN (SELECT practice_id FROM screen_plan)
  AND NOT EXISTS (SELECT 1 FROM screen_plan AS p
                  WHERE p.practice_id = h.practice_id AND p.quarter = h.quarter
                    AND p.source_quarter = h.source_quarter);

DELETE FROM score_history AS h
WHERE h.profile_name = getvariable('profile_name') AND h.profile_version = getvariable('profile_version')
  AND EXISTS (SELECT 1 FROM screen_work AS w WHERE w.practice_id = h.practice_id AND w.quarter = h.quarter);

INSERT INTO score_history BY NAME SELECT * FROM scored;

DELETE FROM screening_profiles
WHERE profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version');
INSERT INTO screening_profiles
SELECT getvariable('profile_name'), getvariable('profile_version'), characteristic, label, weight, scored,
       getvariable('threshold')
FROM profile_characteristics;
