-- Replace the practice-quarter's lists (run in one transaction). Input: built_list.
DELETE FROM outreach_lists
WHERE practice_id = getvariable('practice_id') AND quarter = getvariable('quarter')
  AND profile_name = getvariable('profile_name') AND profile_version = getvariable('profile_version');
INSERT INTO outreach_lists BY NAME
SELECT *, list_kind = 'baseline' OR getvariable('capacity') IS NULL OR rank <= getvariable('capacity') AS listed
FROM built_list;
