-- Replace the lists of the batch's practice-quarters (run in one transaction), each practice's
-- capacity from list_batch (NULL: no limit). Input: list_batch, built_list.
DELETE FROM outreach_lists
WHERE EXISTS (SELECT 1 FROM list_batch AS b
              WHERE b.practice_id = outreach_lists.practice_id AND b.quarter = outreach_lists.quarter)
  AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version');
INSERT INTO outreach_lists BY NAME
SELECT l.*, l.list_kind = 'baseline' OR b.capacity IS NULL OR l.rank <= b.capacity AS listed
FROM built_list AS l
JOIN list_batch AS b USING (practice_id, quarter);
