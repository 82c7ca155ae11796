-- Direct identifiers in one text value, judged the same way wherever omu takes text in: a
-- delivery's values (sql/ingest/direct_identifiers.sql), what quarantine may keep
-- (sql/ingest/quarantine.sql) and an outcome file's note (sql/outreach/import_check.sql).
-- Needs the variable common_names_pattern: the names of omu/ingest/common_names.csv, lower case,
-- as one regular expression (set by omu/ingest/identifiers.py).
--
-- omu_identifier_kind(t, scope) says what t looks like (NULL: nothing). The scope says what the
-- column may legitimately hold (omu/ingest/identifiers.py):
--   'key'       a pseudonym or a code number (patient_id, determinations.code): any 9 digits may
--               pass the 11-proef by chance (1 in 11), so BSN and phone shapes are judged over the
--               whole column (omu_number_kind; direct_identifiers.sql), not per value;
--   'date'      a contract date column: dates are expected, no 8-digit BSN (a date is 8 digits);
--   'birth'     patients.csv's other contract columns: also exact dates of birth;
--   'text'      free text (determinations.value, outcome notes) and the contract's code and number
--               columns: every rule but the birth date, postcodes and numbers also inside the text;
--   'extra'     a column outside the contract ('extra_birth' in patients.csv, where any full date
--               is a date of birth): as 'text', but without the 8-digit BSN, since what such a
--               column may hold is unknown (an 8-digit number passes 1 time in 11 by chance);
--   'field'     a field of a malformed line (its column is unknown): as 'extra'.
CREATE OR REPLACE TEMP MACRO omu_digit(t, i) AS try_cast(t[i] AS INTEGER);

-- BSN: nine digits passing the 11-proef (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11).
CREATE OR REPLACE TEMP MACRO omu_is_bsn(t) AS
    regexp_full_match(t, '[0-9]{9}') AND t <> '000000000' AND
    (9 * omu_digit(t, 1) + 8 * omu_digit(t, 2) + 7 * omu_digit(t, 3) + 6 * omu_digit(t, 4)
     + 5 * omu_digit(t, 5) + 4 * omu_digit(t, 6) + 3 * omu_digit(t, 7) + 2 * omu_digit(t, 8)
     - omu_digit(t, 9)) % 11 = 0;

-- Separators people type inside a number are dropped before matching: '111 222 333',
-- '111.222.333', '111-222-333', '06 - 12 34 56 78', '(030) 2345678', '1950/03/12'.
-- Twice, so that groups of a single digit join too.
CREATE OR REPLACE TEMP MACRO omu_id_joined(t) AS regexp_replace(regexp_replace(
    regexp_replace(t, '[()]', '', 'g'), '([0-9])[ .\-/]+([0-9])', '\1\2', 'g'), '([0-9])[ .\-/]+([0-9])', '\1\2', 'g');

-- Any run of 9 digits (after joining) that passes the 11-proef: 'BSN:111222333', 'bel 111 222 333'.
CREATE OR REPLACE TEMP MACRO omu_has_bsn(t) AS coalesce(list_bool_or(list_transform(
    regexp_extract_all(omu_id_joined(t), '[0-9]+'), lambda r: length(r) = 9 AND omu_is_bsn(r))), false);

-- A whole value that is a full date: 1950-03-12, 12-03-1950, 12.03.1950, 1950/03/12, 19500312, 12031950.
CREATE OR REPLACE TEMP MACRO omu_is_full_date(t) AS
    regexp_full_match(trim(t), '[0-9]{4}[-/.][0-9]{1,2}[-/.][0-9]{1,2}|[0-9]{1,2}[-/.][0-9]{1,2}[-/.][0-9]{4}')
    OR regexp_full_match(trim(t), '[0-9]{8}') AND coalesce(
        year(try_strptime(trim(t), '%Y%m%d')) BETWEEN 1900 AND 2099
        OR year(try_strptime(trim(t), '%d%m%Y')) BETWEEN 1900 AND 2099, false);

-- A spreadsheet drops a BSN's leading 0: a whole value of 8 digits (after a 'BSN:' label and
-- separators) passing the 11-proef with the 0 put back; a full date is no such number.
CREATE OR REPLACE TEMP MACRO omu_id_bare(t) AS omu_id_joined(trim(regexp_replace(trim(t),
    '^(bsn|burgerservicenummer|sofi)[ _-]?(nummer|nr)?[ .]*[:#=-]?', '', 'i')));
CREATE OR REPLACE TEMP MACRO omu_is_bsn8(t) AS
    regexp_full_match(omu_id_bare(t), '[0-9]{8}') AND NOT omu_is_full_date(t) AND omu_is_bsn('0' || omu_id_bare(t));

-- Dutch phone numbers (0 + 9 digits, +31 / 0031 with or without the 0) and other international
-- numbers (+ and 9-14 digits), anywhere in the text after joining.
CREATE OR REPLACE TEMP MACRO omu_has_phone(t) AS regexp_matches(omu_id_joined(t),
    '(^|[^0-9+])0[1-9][0-9]{8}($|[^0-9])|(\+|00)310?[1-9][0-9]{8}($|[^0-9])|\+[1-9][0-9]{8,13}($|[^0-9])');

-- Full postcode: 3511AB, 3511 AB, 3511-AB, 3511ab as the whole value; inside text in capitals
-- (3511 AB) between spaces or punctuation. Letter pairs that are units (1500 mg) or never issued
-- (SA, SD, SS) are no postcode.
CREATE OR REPLACE TEMP MACRO omu_postcode_letters(t, in_text) AS upper(CASE
    WHEN regexp_full_match(trim(t), '[1-9][0-9]{3} ?-? ?[A-Za-z]{2}') THEN right(trim(t), 2)
    WHEN in_text THEN regexp_extract(t, '(^|[\s,;:(])[1-9][0-9]{3} ?-? ?([A-Z]{2})($|[\s,.;:)])', 2)
END);
CREATE OR REPLACE TEMP MACRO omu_has_postcode(t, in_text) AS
    coalesce(omu_postcode_letters(t, in_text), '') NOT IN
        ('', 'SA', 'SD', 'SS', 'MG', 'ML', 'KG', 'GR', 'IE', 'CM', 'MM', 'KM', 'DL', 'UG', 'MU', 'EH', 'UU', 'PM', 'AM');

CREATE OR REPLACE TEMP MACRO omu_has_email(t) AS
    contains(t, '@') AND regexp_matches(t, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}');

-- A common first name or surname as the whole value, or a common first name followed by a
-- capitalised word (Jan Jansen). A heuristic; the list is data.
CREATE OR REPLACE TEMP MACRO omu_is_name(t) AS
    regexp_full_match(lower(trim(t)), getvariable('common_names_pattern'))
    OR regexp_full_match(trim(t), '[A-Z][a-z]+ .*[A-Z][a-z]+.*')
       AND regexp_full_match(lower(split_part(trim(t), ' ', 1)), getvariable('common_names_pattern'));

-- Digits (8 or more, with separators between them) worth the number rules below; most values
-- (pseudonyms, dates, codes, lab values) skip them.
CREATE OR REPLACE TEMP MACRO omu_long_number(t) AS regexp_matches(t, '[0-9][0-9 .()/+-]{6,}[0-9]');

-- What a number-shaped value of a 'key' column looks like, to be counted over the column.
CREATE OR REPLACE TEMP MACRO omu_number_kind(t) AS CASE WHEN omu_long_number(t) THEN CASE
    WHEN omu_has_bsn(t) OR omu_is_bsn8(t) THEN 'a BSN (9 digits passing the 11-proef)'
    WHEN omu_has_phone(t) THEN 'a phone number'
END END;

-- (Nested CASEs: each rule runs only on the values that reach it.)
CREATE OR REPLACE TEMP MACRO omu_identifier_kind(t, scope) AS CASE
    WHEN t IS NULL OR trim(t) = '' THEN NULL
    -- a date in a date column, the bulk of a delivery's distinct values, holds nothing else
    WHEN scope = 'date' AND regexp_full_match(t, '[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{2}-[0-9]{2}-[0-9]{4}') THEN NULL
    -- every rule below needs an @, 4 digits in a row, a long number or (a name) letters only: a
    -- pseudonym, code or measurement without any of these is done here
    WHEN NOT regexp_matches(t, '@|[0-9]{4}|[0-9][0-9 .()/+-]{6,}[0-9]')
         AND NOT regexp_full_match(t, '[^0-9@]*[A-Za-z][^0-9@]*') THEN NULL
    WHEN omu_has_email(t) THEN 'an e-mail address'
    WHEN scope IN ('birth', 'extra_birth') AND omu_is_full_date(t) THEN 'an exact date of birth'
    ELSE coalesce(
        CASE WHEN scope <> 'key' AND omu_long_number(t) THEN CASE
            WHEN omu_has_bsn(t) THEN 'a BSN (9 digits passing the 11-proef)'
            WHEN scope IN ('birth', 'text') AND omu_is_bsn8(t)
                THEN 'a BSN without its leading 0 (8 digits passing the 11-proef with the 0 put back)'
            WHEN omu_has_phone(t) THEN 'a phone number'
            -- a spreadsheet drops the 0 of a mobile number too: 612345678
            WHEN scope IN ('birth', 'text') AND regexp_full_match(omu_id_bare(t), '6[0-9]{8}')
                THEN 'a mobile phone number without its leading 0'
        END END,
        CASE WHEN regexp_matches(t, '[1-9][0-9]{3}') AND omu_has_postcode(t, scope IN ('text', 'extra', 'extra_birth', 'field'))
             THEN 'a full 6-character postcode' END,
        CASE WHEN regexp_full_match(t, '[^0-9@]*[A-Za-z][^0-9@]*') AND omu_is_name(t) THEN 'a person''s name' END)
END;
