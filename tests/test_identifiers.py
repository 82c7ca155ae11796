"""Direct identifiers never get in: every way people write a BSN, phone number, postcode, birth
date or e-mail address (in a value, in free text, in a column name, in a malformed line, in an
outcome note) refuses the delivery or the file, naming file, line and column, never the value.
And the scan raises no false alarm on clean deliveries of every dialect, nor on pseudonyms and
codes that happen to be 9 digits passing the 11-proef."""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from omu.home import OmuHome
from omu.ingest import identifiers
from omu.ingest.delivery import check_delivery
from omu.ingest.load import ingest_delivery
from omu.ingest.reading import read_delivery_csv
from omu.pipelines.cli import app
from omu.quarters import Quarter
from omu.synthetic import VENDOR_DIALECTS, write_delivery
from tests.test_ingest import (
    PRACTICE,
    QUARTER,
    assert_refused,
    base_tables,
    deliver,
    replace_file,
    with_rows,
    with_values,
)
from tests.test_outreach import CROSSERS, make_list
from tests.test_outreach import PRACTICE as OUTREACH_PRACTICE
from tests.test_outreach import tables as outreach_tables


@pytest.fixture
def home(tmp_path) -> OmuHome:
    return OmuHome.resolve(tmp_path / "home").prepare()


BSN = "111222333"  # passes the 11-proef
BSN_8 = "12345672"  # 012345672 passes the 11-proef: a BSN whose leading 0 a spreadsheet dropped
PSEUDONYM_9 = "123456782"  # 9 digits that pass the 11-proef by chance

VALUES = {
    # written as: (file, column, value); the value goes on data line 3 of that column
    "BSN with spaces": ("determinations.csv", "value", "111 222 333"),
    "BSN with dots": ("determinations.csv", "value", "111.222.333"),
    "BSN with dashes": ("determinations.csv", "value", "111-222-333"),
    "BSN with a prefix": ("determinations.csv", "value", "BSN:111222333"),
    "BSN plain": ("determinations.csv", "value", BSN),
    "BSN of 8 digits in a value": ("determinations.csv", "value", BSN_8),
    "BSN of 8 digits with a prefix": ("determinations.csv", "value", "BSN: 12345672"),
    "BSN of 8 digits as a quantity": ("prescriptions.csv", "quantity", BSN_8),
    "BSN in a birth year": ("patients.csv", "birth_year", "123.456.782"),
    "phone with spaces and a dash": ("determinations.csv", "value", "06 - 12 34 56 78"),
    "phone with an area code in brackets": ("determinations.csv", "value", "(030) 2345678"),
    "phone plain": ("determinations.csv", "value", "0612345678"),
    "phone with a dash": ("determinations.csv", "value", "06-12345678"),
    "phone that lost its leading 0": ("determinations.csv", "value", "612345678"),
    "phone +31": ("determinations.csv", "value", "+31612345678"),
    "phone +31 (0)": ("determinations.csv", "value", "+31 (0)6 1234 5678"),
    "phone 0031": ("determinations.csv", "value", "0031 30 234 5678"),
    "phone in free text": ("determinations.csv", "value", "alleen, dochter bellen 0612345678"),
    "BSN in free text": ("determinations.csv", "value", "alleen; bsn 111 222 333"),
    "postcode with a dash": ("patients.csv", "pc4", "3511-AB"),
    "postcode with a space": ("patients.csv", "pc4", "3511 AB"),
    "postcode": ("patients.csv", "pc4", "3511AB"),
    "postcode in free text": ("determinations.csv", "value", "alleen, woont 3511 AB"),
    "birth date with dots": ("patients.csv", "birth_year", "12.03.1950"),
    "birth date as 8 digits": ("patients.csv", "birth_year", "19500312"),
    "birth date with slashes": ("patients.csv", "birth_year", "1950/03/12"),
    "birth date Dutch": ("patients.csv", "birth_year", "12-03-1950"),
    "birth date ISO": ("patients.csv", "birth_year", "1950-03-12"),
    "birth date in a month column": ("patients.csv", "birth_month", "12/03/1950"),
    "e-mail address": ("determinations.csv", "value", "a.b@example.nl"),
    "e-mail in free text": ("determinations.csv", "value", "mail naar dochter: j.de.vries@example.com"),
    "e-mail in a date column": ("episodes.csv", "start_date", "x@example.nl"),
    "phone in a date column": ("episodes.csv", "end_date", "0612345678"),
    "BSN in a date column": ("contacts.csv", "contact_on", "111 222 333"),
    "name": ("determinations.csv", "value", "Jan Jansen"),
}
KIND = {
    "BSN": "BSN",
    "phone": "phone number",
    "postcode": "6-character postcode",
    "birth": "date of birth",
    "e-mail": "e-mail",
    "name": "name",
}


def kind_of(case: str) -> str:
    return next(kind for word, kind in KIND.items() if word in case.split() or case.startswith(word))


def placed(file: str, column: str, value: str) -> dict[str, pl.DataFrame]:
    values = base_tables()[file][column].cast(pl.String).to_list()
    values[1] = value  # data line 3
    return with_values(file, column, values)


def assert_not_shown(home: OmuHome, outcome, secret: str) -> None:
    """The value is nowhere in what omu says or writes: message, report, validation.json,
    quarantine.csv, the store."""
    out = home.delivery_out(QUARTER, PRACTICE)
    texts = [outcome.reason or "", *(p.read_text() for p in out.iterdir())]
    with duckdb.connect(str(home.database), read_only=True) as conn:
        texts += [
            str(conn.execute("SELECT * FROM deliveries").fetchall()),
            str(conn.execute("SELECT * FROM quarantine").fetchall()),
        ]
    for text in texts:
        assert secret not in text


@pytest.mark.parametrize("case", VALUES)
def test_every_way_of_writing_an_identifier_is_refused_without_showing_it(home, tmp_path, case):
    file, column, value = VALUES[case]
    folder = deliver(tmp_path / "landing", placed(file, column, value))
    outcome = assert_refused(home, folder, file, 3, column, kind_of(case))
    assert_not_shown(home, outcome, value)


HEADERS = {
    "bsn_nummer": "BSN column",
    "BSN-nummer": "BSN column",
    "patient_bsn": "BSN column",
    "burgerservicenummer": "BSN column",
    "geboorte datum": "date of birth column",
    "date of birth": "date of birth column",
    "Geb.datum": "date of birth column",
    "tel_nr": "phone number column",
    "Telefoonnummer": "phone number column",
    "mobiel": "phone number column",
    "e-mailadres": "e-mail column",
    "E-mail": "e-mail column",
    "woonplaats": "address column",
    "huisnr": "address column",
    "straatnaam": "address column",
    "postcode": "postcode column",
    "Post code": "postcode column",
    "Achternaam": "name column",
    "voor naam": "name column",
    "naam": "name column",
}


@pytest.mark.parametrize("header", HEADERS)
def test_a_column_named_as_an_identifier_is_refused_in_any_spelling(home, tmp_path, header):
    tables = base_tables()
    tables["patients.csv"] = tables["patients.csv"].with_columns(pl.Series(header, ["x", None, None]))
    folder = deliver(tmp_path / "landing", tables)
    # the reader lower-cases header names (the dialect writes them in its own case)
    assert_refused(home, folder, "patients.csv", 1, header.lower(), HEADERS[header])


MALFORMED = {
    # case: (line added to determinations.csv as data line 5, column named, kind, the identifier)
    "one field too many": ("patientAAAA0001,9001,2024-01-01,alleen,111222333", "field 5", "BSN", "111222333"),
    "one field too few": ("patientAAAA0001,0612345678", "field 2", "phone number", "0612345678"),
    "an unclosed quote": (
        'patientAAAA0001,9001,"2024-01-01,a.b@example.nl',
        "field 4",
        "e-mail",
        "a.b@example.nl",
    ),
    "a formatted BSN": (
        "patientAAAA0001,9001,2024-01-01,alleen,111 222 333,x",
        "field 5",
        "BSN",
        "111 222 333",
    ),
    "';' as separator": ("abcdefgh01;9001;2024-01-01;alleen;111222333", "field 5", "BSN", "111222333"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_each_field_of_a_malformed_line_is_scanned(home, tmp_path, case):
    text, column, kind, secret = MALFORMED[case]
    folder = deliver(tmp_path / "landing", dialect=VENDOR_DIALECTS[0] if ";" in text else VENDOR_DIALECTS[1])
    lines = (folder / "determinations.csv").read_bytes().rstrip(b"\n").split(b"\n")
    replace_file(folder, "determinations.csv", b"\n".join([*lines, text.encode()]) + b"\n", rows=len(lines))
    outcome = assert_refused(home, folder, "determinations.csv", 5, column, kind)
    assert "malformed line" in str(outcome.check.refusals[0])
    assert_not_shown(home, outcome, secret)
    assert_not_shown(home, outcome, text)


def test_quarantine_keeps_the_failed_value_never_a_line_nor_an_identifier(home, tmp_path):
    """A malformed line is kept as its number and reason; a quarantined pseudonym that passes the
    11-proef by chance is withheld; other failed values are kept (the practice needs them)."""
    tables = with_rows(
        "episodes.csv",
        {"patient_id": PSEUDONYM_9, "icpc": "R96", "start_date": dt.date(2020, 1, 1), "end_date": None},
    )
    tables["episodes.csv"] = tables["episodes.csv"].with_columns(pl.col("icpc").replace({"K86": "k86"}))
    folder = deliver(tmp_path / "landing", tables)
    lines = (folder / "episodes.csv").read_bytes().rstrip(b"\n").split(b"\n")
    malformed = b"patientAAAA0001,R96,2020-01-01,,toelichting"
    replace_file(folder, "episodes.csv", b"\n".join([*lines, malformed]) + b"\n", rows=len(lines))
    outcome = ingest_delivery(home, folder)
    assert outcome.status == "loaded", outcome.reason
    with duckdb.connect(str(home.database), read_only=True) as conn:
        stored = conn.execute('SELECT line, "column", value, reason FROM quarantine ORDER BY line').fetchall()
    assert stored == [
        (5, "icpc", "k86", "code of the wrong shape: ICPC, e.g. R96 or F94.01"),
        (
            6,
            "patient_id",
            None,
            "unknown patient_id (not loaded from patients.csv) (value withheld: it looks like "
            "a BSN (9 digits passing the 11-proef))",
        ),
        (7, None, None, "malformed line: 5 fields where the header has 4"),
    ]
    csv = (home.delivery_out(QUARTER, PRACTICE) / "quarantine.csv").read_text()
    assert "toelichting" not in csv and PSEUDONYM_9 not in csv and "k86" in csv


def test_quarantine_holds_for_every_reason_one_field_of_the_line_at_most(home, tmp_path):
    """Every reason: the value kept is the failed cell itself (up to case) or nothing."""
    tables = base_tables()
    tables["patients.csv"] = tables["patients.csv"].with_columns(
        pl.Series("sex", ["V", "X", "O"]), pl.Series("birth_month", ["3", None, "13"])
    )
    tables["episodes.csv"] = tables["episodes.csv"].with_columns(
        pl.Series("start_date", ["2026-02-30", "2020-05-05", "2010-01-01", "1899-01-01"]),
        pl.Series("icpc", ["F94", "h86", "R96", "K86"]),
    )
    prescriptions = tables["prescriptions.csv"].with_columns(pl.Series("quantity", ["90", "veel", "1"]))
    tables["prescriptions.csv"] = pl.concat([prescriptions, prescriptions.head(1)])
    tables["determinations.csv"] = tables["determinations.csv"].with_columns(
        pl.Series("value", ["alleen", None, "x"])
    )
    tables["contacts.csv"] = tables["contacts.csv"].with_columns(pl.Series("kind", ["spreekuur", "consult"]))
    folder = deliver(tmp_path / "landing", tables)
    lines = (folder / "episodes.csv").read_bytes().rstrip(b"\n").split(b"\n")
    replace_file(
        folder, "episodes.csv", b"\n".join([*lines, b"patientAAAA0001,R96"]) + b"\n", rows=len(lines)
    )
    outcome = ingest_delivery(home, folder)
    assert outcome.status == "loaded", outcome.reason
    with duckdb.connect(str(home.database), read_only=True) as conn:
        stored = conn.execute('SELECT file, line, "column", value, reason FROM quarantine').fetchall()
    reasons = {reason.split(" (")[0].split(":")[0] for *_, reason in stored}
    assert {
        "missing required value",
        "unparsable date",
        "date before 1900",
        "code of the wrong shape",
        "unparsable number",
        "number out of range 1-12",
        "value not allowed",
        "duplicate of line 2",
        "unknown patient_id",
        "malformed line",
    } <= reasons, reasons
    cells = {name: read_delivery_csv(folder / name).rows for name in tables}
    for file, line, column, value, reason in stored:
        if column is None:
            assert value is None, reason  # a duplicate or malformed line: nothing of its text
        elif value is not None:
            cell = cells[file].filter(pl.col("line") == line)[column].item()
            assert value.lower() == cell.lower(), (file, line, column, reason)


def _renamed(tables: dict[str, pl.DataFrame], ids: dict[str, str]) -> dict[str, pl.DataFrame]:
    return {name: frame.with_columns(pl.col("patient_id").replace(ids)) for name, frame in tables.items()}


def test_a_pseudonym_or_code_of_9_digits_passing_the_11_proef_is_no_bsn(home, tmp_path):
    tables = _renamed(base_tables(), {"patientAAAA0001": PSEUDONYM_9})
    tables["determinations.csv"] = tables["determinations.csv"].with_columns(
        pl.Series("code", [9001, 123456794, 9002])
    )
    outcome = ingest_delivery(home, deliver(tmp_path / "landing", tables))
    assert outcome.status == "loaded", outcome.reason
    assert outcome.check.quarantine.is_empty()


def test_a_pseudonym_column_of_bsns_is_refused(home, tmp_path):
    ids = {"patientAAAA0001": "111222333", "patientBBBB0002": "123456782", "patientCCCC0003": "123-456-794"}
    folder = deliver(tmp_path / "landing", _renamed(base_tables(), ids))
    outcome = assert_refused(home, folder, "patients.csv", 2, "patient_id", "BSN")
    for secret in ids.values():
        assert_not_shown(home, outcome, secret)


CLEAN_VALUES = [
    "72,5",
    "7.5",
    "120/80",
    "1500 mg",
    "2500 ML",
    "alleen",
    "één keer",
    "Met partner",
    "controle 12-03-2026",
    "1.234.567",
    "3 x per dag",
    "HbA1c 53 mmol/mol",
    "20240101",
]


def test_clean_values_that_resemble_identifiers_are_not_refused(home, tmp_path):
    tables = base_tables()
    det = tables["determinations.csv"]
    tables["determinations.csv"] = pl.DataFrame(
        {
            "patient_id": [det["patient_id"][0]] * len(CLEAN_VALUES),
            "code": list(range(100, 100 + len(CLEAN_VALUES))),
            "measured_on": [det["measured_on"][0]] * len(CLEAN_VALUES),
            "value": CLEAN_VALUES,
        }
    )
    outcome = ingest_delivery(home, deliver(tmp_path / "landing", tables))
    assert outcome.status == "loaded", outcome.reason


def test_clean_generated_deliveries_of_every_dialect_raise_no_false_alarm(tmp_path):
    from omu.quarters import quarter_range
    from omu.synthetic import generate

    summary = generate(
        tmp_path / "landing",
        practices=len(VENDOR_DIALECTS),
        quarters=quarter_range("2026Q3"),
        seed=14,
        patients=(150, 250),
    )
    folders = sorted((tmp_path / "landing").glob("*/2026Q3"))
    assert len(folders) == summary.deliveries == len(VENDOR_DIALECTS)
    for folder in folders:
        check = check_delivery(folder, tmp_path / "stage" / folder.parent.name)
        assert check.accepted, check.refusal_reason
        assert check.quarantine.is_empty()


# --- outcome files: the note is free text ---------------------------------------------------------

NOTES = {
    "phone": "dochter bellen 06 - 12 34 56 78",
    "BSN": "bsn 111.222.333 klopt niet",
    "e-mail": "mail naar a.b@example.nl",
    "postcode": "verhuisd naar 3511 AB",
}


@pytest.mark.parametrize("kind", NOTES)
def test_an_outcome_note_holding_an_identifier_refuses_the_file_through_the_cli(tmp_path, kind):
    extracted = Quarter.parse("2025Q4").reference_date + dt.timedelta(days=4)
    landing = tmp_path / "landing"
    write_delivery(
        landing / OUTREACH_PRACTICE / "2025Q4",
        practice_id=OUTREACH_PRACTICE,
        quarter="2025Q4",
        extracted_on=extracted,
        tables=outreach_tables(extracted),
        dialect=VENDOR_DIALECTS[3],
    )
    omu_home = OmuHome.resolve(tmp_path / "home").prepare()
    make_list(omu_home, landing, "2025Q4")
    path = tmp_path / "uitkomsten.csv"
    # row 4: a BSN where the pseudonym belongs is an unknown patient, and is not shown either
    pl.DataFrame(
        {
            "patient_id": [*CROSSERS[:2], "111.222.333"],
            "quarter": ["2025Q4"] * 3,
            "outcome": ["bereikt"] * 3,
            "date": ["10-01-2026"] * 3,
            "note": ["goed gesprek", NOTES[kind], None],
            "practice_id": [OUTREACH_PRACTICE] * 3,
        }
    ).write_csv(path, separator=";")
    result = CliRunner().invoke(app, ["outcomes", "import", str(path), "--home", str(omu_home.root)])
    assert result.exit_code != 0
    said = result.output + str(result.exception or "")
    assert "uitkomsten.csv" in said and "row 3, column note" in said and "direct identifier" in said, said
    assert "row 4, column patient_id: unknown patient" in said
    assert NOTES[kind] not in said and NOTES[kind].split()[-1] not in said and "111.222.333" not in said
    with duckdb.connect(str(omu_home.database), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM outreach_outcomes").fetchall() == [(0,)]


# --- the rules themselves, on many generated values (SQL only, fast) --------------------------------


@pytest.fixture(scope="module")
def judge():
    conn = duckdb.connect()
    identifiers.prepare(conn)

    def kind(value: str, scope: str = "text") -> str | None:
        return conn.execute("SELECT omu_identifier_kind($1, $2)", [value, scope]).fetchone()[0]

    yield kind
    conn.close()


def _bsn(digits: list[int]) -> str:
    """Eight digits -> a nine-digit number that passes the 11-proef (None when no last digit fits)."""
    total = sum(w * d for w, d in zip(range(9, 1, -1), digits, strict=True))
    last = total % 11
    return "".join(map(str, digits)) + str(last) if last < 10 else ""


separators = st.sampled_from(["", " ", ".", "-", " - "])


@settings(max_examples=150, deadline=None)
@given(
    digits=st.lists(st.integers(0, 9), min_size=8, max_size=8).filter(lambda d: d[0] > 0),
    sep=separators,
    prefix=st.sampled_from(["", "BSN:", "bsn ", "BSN-nummer: ", "alleen; bsn "]),
)
def test_a_bsn_in_any_notation_is_found(judge, digits, sep, prefix):
    bsn = _bsn(digits)
    assume(bsn)
    value = prefix + sep.join([bsn[:3], bsn[3:6], bsn[6:]])
    assert "BSN" in judge(value), value
    assert "BSN" in judge(value, "field") and "BSN" in judge(value, "date")


@settings(max_examples=150, deadline=None)
@given(
    mobile=st.text("0123456789", min_size=8, max_size=8),
    sep=separators,
    style=st.sampled_from(
        [
            "06{s}{a}{s}{b}",
            "06{s}{a}{b}",
            "+31 6 {a}{b}",
            "+31 (0)6 {a}{s}{b}",
            "0031 6{a}{b}",
            "(06) {a}{b}",
            "bel dochter 06{s}{a}{s}{b} na 17 uur",
        ]
    ),
)
def test_a_mobile_number_in_any_notation_is_found(judge, mobile, sep, style):
    value = style.format(s=sep, a=mobile[:4], b=mobile[4:])
    assert "phone" in (judge(value) or ""), value


@settings(max_examples=150, deadline=None)
@given(
    day=st.dates(dt.date(1900, 1, 1), dt.date(2026, 12, 31)),
    layout=st.sampled_from(["%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d", "%Y%m%d", "%d/%m/%Y"]),
)
def test_a_full_date_is_a_birth_date_among_patient_characteristics_only(judge, day, layout):
    value = day.strftime(layout)
    assert judge(value, "birth") == "an exact date of birth", value
    if layout in ("%Y-%m-%d", "%d-%m-%Y"):  # the contract's date formats
        assert judge(value, "date") is None, value
    assert judge(value, "text") is None or "BSN" not in judge(value, "text"), value


@settings(max_examples=200, deadline=None)
@given(
    value=st.one_of(
        st.from_regex(
            r"\A[A-Za-z][A-Za-z0-9_-]{3}([A-Za-z][A-Za-z0-9_-]{3}){3,5}\Z"
        ),  # generator-style pseudonyms
        st.floats(0, 400, allow_nan=False).map(lambda x: f"{x:.1f}".replace(".", ",")),
        st.tuples(st.integers(80, 220), st.integers(40, 130)).map(lambda t: f"{t[0]}/{t[1]}"),
        st.from_regex(r"\AWK0[0-9]{5}\Z"),
        st.from_regex(r"\A[1-9][0-9]{3}\Z"),
        st.from_regex(r"\A[A-Z][0-9]{2}(\.[0-9]{2})?\Z"),
        st.from_regex(r"\A[A-Z][0-9]{2}[A-Z]{2}[0-9]{2}\Z"),
    )
)
def test_ordinary_values_are_no_identifiers(judge, value):
    for scope in ("key", "birth", "text", "field"):
        assert judge(value, scope) is None, (value, scope)
