-- The raw counts never outlive the computation.
DROP TABLE IF EXISTS dash_outreach;
DROP TABLE IF EXISTS dash_flags;
DROP TABLE IF EXISTS dash_people;
DROP TABLE IF EXISTS dash_wijken;
