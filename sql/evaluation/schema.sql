-- Did the referral arrive? A follow-up the practice hands back in a later quarter for a patient
-- it referred (outcome verwezen): ja / nee / onbekend, with the date it learned so. One row per
-- referral (the list's practice, quarter and patient); a changed answer replaces the earlier one.
CREATE TABLE IF NOT EXISTS referral_followups (
    practice_id VARCHAR NOT NULL,
    quarter VARCHAR NOT NULL,            -- the quarter of the list the patient was referred from
    patient_id VARCHAR NOT NULL,
    arrived VARCHAR NOT NULL CHECK (arrived IN ('ja', 'nee', 'onbekend')),
    arrived_on DATE,                     -- date of arrival (ja) or of the follow-up (nee, onbekend)
    imported_at TIMESTAMP NOT NULL,
    source_file VARCHAR NOT NULL
);
