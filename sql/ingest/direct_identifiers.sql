-- Direct identifiers in a delivery: omu takes pseudonymised extracts only, so any of these
-- refuses the whole delivery. Inputs: raw_columns(file, "column") - every header name;
-- raw_values(file, line, "column", value, n) - every distinct non-empty value of a column, with
-- the first line it is on and the number of lines holding it (each value is judged once, however
-- often it occurs); common_names(name).
-- Output: one row per finding (file, line, column, kind, n): the first line and the number of
-- lines of that value; line 1 = the header.
CREATE OR REPLACE TEMP MACRO omu_digit(t, i) AS try_cast(t[i] AS INTEGER);

-- BSN: nine digits passing the 11-proef (9*d1 + 8*d2 + ... + 2*d8 - 1*d9 divisible by 11).
CREATE OR REPLACE TEMP MACRO omu_is_bsn(t) AS
    regexp_full_match(t, '[0-9]{9}') AND t <> '000000000' AND
    (9 * omu_digit(t, 1) + 8 * omu_digit(t, 2) + 7 * omu_digit(t, 3) + 6 * omu_digit(t, 4)
     + 5 * omu_digit(t, 5) + 4 * omu_digit(t, 6) + 3 * omu_digit(t, 7) + 2 * omu_digit(t, 8)
     - omu_digit(t, 9)) % 11 = 0;

CREATE OR REPLACE TEMP TABLE direct_identifier_findings AS
SELECT file, 1 AS line, "column", kind, 1 AS n
FROM (
    SELECT file, "column", CASE
        WHEN regexp_full_match(lower("column"), '(bsn|burgerservicenummer|sofinummer|sofi_nummer|sofi)')
            THEN 'a BSN column'
        WHEN regexp_full_match(lower("column"),
            '(naam|name|voornaam|achternaam|roepnaam|geslachtsnaam|voorletters|initialen|tussenvoegsel'
            || '|first_?name|last_?name|surname|family_?name|given_?name|full_?name|patient_?name|patientnaam)')
            THEN 'a name column'
        WHEN regexp_full_match(lower("column"),
            '(geboortedatum|geb_?datum|geboorte_?datum|birth_?date|birthdate|date_?of_?birth|dob|birth_?day)')
            THEN 'an exact date of birth column'
        WHEN regexp_full_match(lower("column"), '(postcode|post_?code|zip|zip_?code|pc6|postcode6|postcode_?6)')
            THEN 'a full postcode column'
        WHEN regexp_full_match(lower("column"),
            '(tel|telefoon|telefoonnummer|telefoon_?nummer|phone|phone_?number|mobiel|mobile|gsm)')
            THEN 'a phone number column'
        WHEN regexp_full_match(lower("column"), '(e-?mail|e_mail|emailadres|email_?address|mail)')
            THEN 'an e-mail column'
        WHEN regexp_full_match(lower("column"), '(adres|address|straat|straatnaam|street|huisnummer|house_?number)')
            THEN 'an address column'
    END AS kind
    FROM raw_columns
)
WHERE kind IS NOT NULL

UNION ALL

SELECT file, line, "column", kind, n
FROM (
    SELECT file, line, "column", n, CASE
        WHEN omu_is_bsn(value) THEN 'a BSN (9 digits passing the 11-proef)'
        WHEN regexp_full_match(value, '[1-9][0-9]{3} ?[A-Za-z]{2}') THEN 'a full 6-character postcode'
        WHEN regexp_matches(value, '[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}') THEN 'an e-mail address'
        WHEN regexp_full_match(value, '(\+31|0031|0)[ -]?[1-9]([ -]?[0-9]){8}') THEN 'a phone number'
        WHEN regexp_full_match(value, '\+[0-9][0-9 ()-]{7,}[0-9]') THEN 'a phone number'
        WHEN file = 'patients.csv' AND "column" NOT IN ('registered_from', 'registered_until')
             AND regexp_full_match(value, '([0-9]{4}-[0-9]{1,2}-[0-9]{1,2}|[0-9]{1,2}[-/][0-9]{1,2}[-/][0-9]{4})')
            THEN 'an exact date of birth'
        WHEN lower(value) IN (SELECT name FROM common_names)
             OR lower(split_part(value, ' ', 1)) IN (SELECT name FROM common_names)
                AND regexp_full_match(value, '[A-Z][a-z]+ .*[A-Z][a-z]+.*')
            THEN 'a person''s name'
    END AS kind
    FROM raw_values
)
WHERE kind IS NOT NULL;
