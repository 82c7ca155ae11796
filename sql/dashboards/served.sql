-- Which practice has registered patients in which wijk area, per quarter (no counts): the
-- structure behind region = sum of wijken = sum of practices, for the disclosure audit.
SELECT DISTINCT quarter, practice_id, wijk_area FROM dash_people ORDER BY ALL;
