"""Ingest, as the HIS extract contract says: every bad delivery is either refused whole (a message
naming file, line and column; nothing in the store) or loaded with the bad rows quarantined
(exact counts and reasons). Real deliveries on disk, a real DuckDB file, real GX validation."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from omu.contract import FILES
from omu.home import OmuHome
from omu.ingest.delivery import check_delivery
from omu.ingest.load import IngestOutcome, ingest_delivery, merge_delivery
from omu.quarters import Quarter
from omu.synthetic import VENDOR_DIALECTS, Dialect, write_delivery

QUARTER = "2026Q3"
EXTRACTED = dt.date(2026, 10, 5)
PRACTICE = "P0100"
DIALECT = VENDOR_DIALECTS[1]  # Promedico: ',' UTF-8, ISO dates, UPPER headers
A, B, C = "patientAAAA0001", "patientBBBB0002", "patientCCCC0003"
D = dt.date


def base_tables() -> dict[str, pl.DataFrame]:
    """A small delivery that satisfies the contract: 3 patients and a few rows per file."""
    return {
        "patients.csv": pl.DataFrame(
            {
                "patient_id": [A, B, C],
                "birth_year": [1940, 1975, 2001],
                "birth_month": [3, None, 11],
                "sex": ["V", "M", "O"],
                "wijk_code": ["WK034403", "WK034406", "WK034409"],
                "pc4": ["3563", None, "3543"],
                "registered_from": [D(1990, 1, 1), D(2005, 6, 1), D(2020, 2, 3)],
                "registered_until": [None, None, D(2026, 8, 1)],
                "end_reason": [None, None, "verhuisd"],
            }
        ),
        "episodes.csv": pl.DataFrame(
            {
                "patient_id": [A, A, B, C],
                "icpc": ["F94", "H86.01", "R96", "K86"],
                "start_date": [D(2015, 1, 1), D(2020, 5, 5), D(2010, 1, 1), D(2021, 1, 1)],
                "end_date": [None, None, None, D(2022, 1, 1)],
            }
        ),
        "prescriptions.csv": pl.DataFrame(
            {
                "patient_id": [A, B, B],
                "atc": ["C07AB02", "R03AC02", "R03BA02"],
                "prescribed_on": [D(2026, 8, 1), D(2026, 7, 1), D(2024, 1, 1)],
                "quantity": [90.0, 2.0, 1.0],
                "duration_days": [90, None, 30],
            }
        ),
        "determinations.csv": pl.DataFrame(
            {
                "patient_id": [A, A, B],
                "code": [9001, 357, 9002],
                "measured_on": [D(2025, 1, 1), D(2026, 2, 2), D(2024, 4, 4)],
                "value": ["alleen", "72.5", "één keer"],
            }
        ),
        "contacts.csv": pl.DataFrame(
            {
                "patient_id": [A, B],
                "contact_on": [D(2026, 9, 1), D(2026, 3, 3)],
                "kind": ["consult", "telefonisch"],
            }
        ),
    }


def deliver(
    landing: Path,
    tables=None,
    *,
    practice=PRACTICE,
    quarter=QUARTER,
    extracted_on=EXTRACTED,
    dialect: Dialect = DIALECT,
    **manifest,
) -> Path:
    folder = landing / practice / quarter
    write_delivery(
        folder,
        practice_id=practice,
        quarter=quarter,
        extracted_on=extracted_on,
        tables=tables if tables is not None else base_tables(),
        dialect=dialect,
        **manifest,
    )
    return folder


def edit_manifest(folder: Path, change) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


def replace_file(folder: Path, name: str, data: bytes, *, rows: int | None = None) -> None:
    """Put other bytes in a delivered file and keep the manifest consistent with them."""
    (folder / name).write_bytes(data)

    def change(manifest):
        manifest["files"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        if rows is not None:
            manifest["files"][name]["rows"] = rows

    edit_manifest(folder, change)


def with_rows(table: str, extra: dict) -> dict[str, pl.DataFrame]:
    tables = base_tables()
    tables[table] = pl.concat(
        [tables[table], pl.DataFrame([extra], schema=tables[table].schema)], how="vertical"
    )
    return tables


def with_values(table: str, column: str, values: list, dtype=pl.String) -> dict[str, pl.DataFrame]:
    tables = base_tables()
    tables[table] = tables[table].with_columns(pl.Series(column, values, dtype=dtype))
    return tables


def typed_duplicate_prescriptions() -> dict[str, pl.DataFrame]:
    """Line 4 repeats line 2 with the quantity written 90.0 instead of 90 and the date the Dutch way."""
    tables = base_tables()
    tables["prescriptions.csv"] = pl.DataFrame(
        {
            "patient_id": [A, B, A],
            "atc": ["C07AB02", "R03AC02", "C07AB02"],
            "prescribed_on": ["2026-08-01", "2026-07-01", "01-08-2026"],
            "quantity": ["90", "2", "90.0"],
            "duration_days": ["90", None, "90"],
        }
    )
    return tables


@pytest.fixture
def home(tmp_path) -> OmuHome:
    return OmuHome.resolve(tmp_path / "home").prepare()


def store_rows(home: OmuHome) -> dict[str, int]:
    if not home.database.exists():
        return {}
    with duckdb.connect(str(home.database), read_only=True) as conn:
        tables = {name for (name,) in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        return {
            file.table: conn.execute(f"SELECT count(*) FROM {file.table}").fetchall()[0][0]
            for file in FILES
            if file.table in tables
        }


# --- refused: nothing of the delivery is loaded ------------------------------------------------


def _no_manifest(folder):
    (folder / "manifest.json").unlink()


def _manifest_not_json(folder):
    (folder / "manifest.json").write_text("{not json")


def _rows_off(folder):
    edit_manifest(folder, lambda m: m["files"]["episodes.csv"].update(rows=5))


def _sha_off(folder):
    (folder / "prescriptions.csv").write_bytes((folder / "prescriptions.csv").read_bytes() + b"")
    edit_manifest(folder, lambda m: m["files"]["prescriptions.csv"].update(sha256="0" * 64))


def _practice_off(folder):
    edit_manifest(folder, lambda m: m.update(practice_id="P0999"))


def _quarter_off(folder):
    edit_manifest(folder, lambda m: m.update(quarter="2026Q2"))


def _contract_version(folder):
    edit_manifest(folder, lambda m: m.update(contract_version=2))


def _extracted_too_early(folder):
    edit_manifest(folder, lambda m: m.update(extracted_on="2026-09-30"))


def _listed_not_delivered(folder):
    (folder / "contacts.csv").unlink()


def _unlisted_file(folder):
    edit_manifest(folder, lambda m: m["files"].pop("contacts.csv"))


def _required_file_missing(folder):
    (folder / "episodes.csv").unlink()
    edit_manifest(folder, lambda m: m["files"].pop("episodes.csv"))


def _bad_encoding(folder):
    data = (folder / "determinations.csv").read_bytes().replace("één".encode(), b"\x81\x81n")
    replace_file(folder, "determinations.csv", data)


def _empty_file(folder):
    replace_file(folder, "contacts.csv", b"", rows=0)


def _repeated_header(folder):
    data = (folder / "contacts.csv").read_bytes().replace(b"KIND", b"CONTACT_ON", 1)
    replace_file(folder, "contacts.csv", data)


REFUSALS = {
    # case: (how to break a good delivery, file, line, column, words in the message)
    "manifest missing": (_no_manifest, "manifest.json", None, None, "missing"),
    "manifest unreadable": (_manifest_not_json, "manifest.json", None, None, "not readable JSON"),
    "row count differs": (_rows_off, "episodes.csv", None, None, "manifest says 5 rows, the file has 4"),
    "sha256 differs": (_sha_off, "prescriptions.csv", None, "sha256", "does not match its sha256"),
    "practice differs": (_practice_off, "manifest.json", None, "practice_id", "does not match the folder"),
    "quarter differs": (_quarter_off, "manifest.json", None, "quarter", "does not match the folder"),
    "contract version": (_contract_version, "manifest.json", None, "contract_version", "contract version 1"),
    "extracted too early": (_extracted_too_early, "manifest.json", None, "extracted_on", "after the quarter"),
    "file listed, not delivered": (_listed_not_delivered, "contacts.csv", None, "files", "not delivered"),
    "file delivered, not listed": (_unlisted_file, "contacts.csv", None, "files", "not listed"),
    "required file missing": (_required_file_missing, "manifest.json", None, "files", "episodes.csv"),
    "unreadable encoding": (_bad_encoding, "determinations.csv", 1, None, "neither UTF-8 nor Windows-1252"),
    "empty file": (_empty_file, "contacts.csv", 1, None, "empty"),
    "repeated header": (_repeated_header, "contacts.csv", 1, None, "more than once"),
}

IDENTIFIERS = {
    # case: (tables, file, line, column, kind)
    "BSN in values": (
        with_values("determinations.csv", "value", ["alleen", "111222333", "x"]),
        "determinations.csv",
        3,
        "value",
        "BSN",
    ),
    "BSN column": (
        with_values("patients.csv", "bsn", ["1", "2", "3"]),
        "patients.csv",
        1,
        "bsn",
        "BSN column",
    ),
    "name column": (
        with_values("patients.csv", "achternaam", ["a", "b", "c"]),
        "patients.csv",
        1,
        "achternaam",
        "name column",
    ),
    "name in values": (
        with_values("determinations.csv", "value", ["alleen", "Jan Jansen", "x"]),
        "determinations.csv",
        3,
        "value",
        "name",
    ),
    "full postcode": (
        with_values("patients.csv", "pc4", ["3511AB", None, "3543"]),
        "patients.csv",
        2,
        "pc4",
        "6-character postcode",
    ),
    "exact birth date": (
        with_values("patients.csv", "birth_year", ["12-03-1940", "1975", "2001"]),
        "patients.csv",
        2,
        "birth_year",
        "date of birth",
    ),
    "birth date column": (
        with_values("patients.csv", "geboortedatum", ["1940-03-12", None, None]),
        "patients.csv",
        1,
        "geboortedatum",
        "date of birth column",
    ),
    "phone number": (
        with_values("determinations.csv", "value", ["alleen", "06-12345678", "x"]),
        "determinations.csv",
        3,
        "value",
        "phone number",
    ),
    "e-mail address": (
        with_values("determinations.csv", "value", ["alleen", "x", "a.b@example.nl"]),
        "determinations.csv",
        4,
        "value",
        "e-mail",
    ),
    "phone column": (
        with_values("patients.csv", "telefoon", [None, None, None]),
        "patients.csv",
        1,
        "telefoon",
        "phone number column",
    ),
}


def assert_refused(home: OmuHome, folder: Path, file: str, line, column, words: str) -> IngestOutcome:
    outcome = ingest_delivery(home, folder)
    assert outcome.status == "refused" and outcome.check is not None and outcome.reason is not None
    findings = outcome.check.refusals
    assert any(
        f.file == file and f.line == line and f.column == column and words in f.message for f in findings
    ), "\n".join(map(str, findings))
    assert "nothing of it was loaded" in outcome.reason
    assert sum(store_rows(home).values()) == 0
    with duckdb.connect(str(home.database), read_only=True) as conn:
        assert conn.execute("SELECT status FROM deliveries").fetchall() == [("refused",)]
    return outcome


@pytest.mark.parametrize("case", REFUSALS)
def test_a_broken_delivery_is_refused_whole(home, tmp_path, case):
    breaks, file, line, column, words = REFUSALS[case]
    folder = deliver(tmp_path / "landing")
    breaks(folder)
    assert_refused(home, folder, file, line, column, words)


@pytest.mark.parametrize("case", IDENTIFIERS)
def test_a_direct_identifier_refuses_the_delivery_without_showing_it(home, tmp_path, case):
    tables, file, line, column, kind = IDENTIFIERS[case]
    folder = deliver(tmp_path / "landing", tables)
    outcome = assert_refused(home, folder, file, line, column, kind)
    report = (home.delivery_out(QUARTER, PRACTICE) / "report.md").read_text()
    for secret in ("111222333", "Jan Jansen", "3511AB", "12-03-1940", "06-12345678", "a.b@example.nl"):
        assert secret not in report and secret not in (outcome.reason or "")


def test_a_changed_pseudonym_key_is_refused(home, tmp_path):
    assert ingest_delivery(home, deliver(tmp_path / "landing")).status == "loaded"
    folder = deliver(
        tmp_path / "landing", quarter="2026Q4", extracted_on=D(2027, 1, 4), pseudonym_key_id="ttp-2027-01"
    )
    outcome = ingest_delivery(home, folder)
    assert outcome.status == "refused"
    assert any(
        f.column == "pseudonym_key_id" and "changed from 'ttp-2026-01'" in f.message
        for f in outcome.check.refusals
    )
    with duckdb.connect(str(home.database), read_only=True) as conn:
        assert conn.execute("SELECT DISTINCT quarter FROM patients").fetchall() == [(QUARTER,)]


def test_a_required_column_missing_is_refused(home, tmp_path):
    tables = base_tables()
    tables["patients.csv"] = tables["patients.csv"].drop("wijk_code")
    assert_refused(
        home,
        deliver(tmp_path / "landing", tables),
        "patients.csv",
        1,
        "wijk_code",
        "required column wijk_code is missing",
    )


# --- loaded, with rows quarantined --------------------------------------------------------------

QUARANTINES = {
    # case: (tables, file, line, column, reason, loaded rows of that file)
    "unparsable date": (
        with_values("episodes.csv", "start_date", ["2015-01-01", "2026-02-30", "2010-01-01", "2021-01-01"]),
        "episodes.csv",
        3,
        "start_date",
        "unparsable date",
        3,
    ),
    "date after extraction": (
        with_values("contacts.csv", "contact_on", ["2026-09-01", "2026-10-06"]),
        "contacts.csv",
        3,
        "contact_on",
        "date after the extraction date",
        1,
    ),
    "date before 1900": (
        with_values("episodes.csv", "end_date", [None, "1899-12-31", None, "2022-01-01"]),
        "episodes.csv",
        3,
        "end_date",
        "date before 1900",
        3,
    ),
    "ICPC of the wrong shape": (
        with_values("episodes.csv", "icpc", ["F94", "h86", "R96", "K86"]),
        "episodes.csv",
        3,
        "icpc",
        "code of the wrong shape",
        3,
    ),
    "ATC of the wrong shape": (
        with_values("prescriptions.csv", "atc", ["C07AB02", "C7", "R03BA02"]),
        "prescriptions.csv",
        3,
        "atc",
        "code of the wrong shape",
        2,
    ),
    "unknown patient": (
        with_rows(
            "episodes.csv",
            {"patient_id": "patientZZZZ9999", "icpc": "R96", "start_date": D(2020, 1, 1), "end_date": None},
        ),
        "episodes.csv",
        6,
        "patient_id",
        "unknown patient_id",
        4,
    ),
    "exact duplicate": (
        with_rows(
            "prescriptions.csv",
            {
                "patient_id": A,
                "atc": "C07AB02",
                "prescribed_on": D(2026, 8, 1),
                "quantity": 90.0,
                "duration_days": 90,
            },
        ),
        "prescriptions.csv",
        5,
        None,
        "duplicate of line 2",
        3,
    ),
    # duplicates are compared as the rows would load (and as Great Expectations checks them), not
    # as text: 90 and 90.0 are one quantity, 01-08-2026 and 2026-08-01 one date
    "duplicate once typed: 90 and 90.0": (
        typed_duplicate_prescriptions(),
        "prescriptions.csv",
        4,
        None,
        "duplicate of line 2",
        2,
    ),
    "duplicate once typed: sex F is V": (
        with_rows(
            "patients.csv",
            {
                "patient_id": A,
                "birth_year": 1940,
                "birth_month": 3,
                "sex": "f",
                "wijk_code": "WK034403",
                "pc4": "3563",
                "registered_from": D(1990, 1, 1),
                "registered_until": None,
                "end_reason": None,
            },
        ),
        "patients.csv",
        5,
        None,
        "duplicate of line 2",
        3,
    ),
    "sex not allowed": (
        with_values("patients.csv", "sex", ["V", "X", "O"]),
        "patients.csv",
        3,
        "sex",
        "value not allowed",
        2,
    ),
    "birth month out of range": (
        with_values("patients.csv", "birth_month", ["3", "13", "11"]),
        "patients.csv",
        3,
        "birth_month",
        "out of range",
        2,
    ),
    "unparsable number": (
        with_values("prescriptions.csv", "quantity", ["90", "veel", "1"]),
        "prescriptions.csv",
        3,
        "quantity",
        "unparsable number",
        2,
    ),
    "end before start": (
        with_values("episodes.csv", "end_date", [None, "2019-01-01", None, "2022-01-01"]),
        "episodes.csv",
        3,
        "end_date",
        "end_date before start_date",
        3,
    ),
    "contact kind not allowed": (
        with_values("contacts.csv", "kind", ["consult", "spreekuur"]),
        "contacts.csv",
        3,
        "kind",
        "value not allowed",
        1,
    ),
    "wijk code of the wrong shape": (
        with_values("patients.csv", "wijk_code", ["WK034403", "WK34406", "WK034409"]),
        "patients.csv",
        3,
        "wijk_code",
        "code of the wrong shape",
        2,
    ),
    "missing required value": (
        with_values("determinations.csv", "value", ["alleen", None, "één keer"]),
        "determinations.csv",
        3,
        "value",
        "missing required value",
        2,
    ),
}


@pytest.mark.parametrize("case", QUARANTINES)
def test_a_bad_row_is_quarantined_and_the_rest_loads(home, tmp_path, case):
    tables, file, line, column, reason, loaded = QUARANTINES[case]
    outcome = ingest_delivery(home, deliver(tmp_path / "landing", tables))
    assert outcome.status == "loaded", outcome.reason
    with duckdb.connect(str(home.database), read_only=True) as conn:
        quarantined = conn.execute('SELECT file, line, "column", reason FROM quarantine').fetchall()
        account = conn.execute(
            f"SELECT {file[:-4]}_rows_manifest, {file[:-4]}_rows_loaded, "
            f"{file[:-4]}_rows_quarantined FROM deliveries"
        ).fetchall()[0]
    assert any(q[0] == file and q[1] == line and q[2] == column and reason in q[3] for q in quarantined), (
        quarantined
    )
    in_manifest = tables[file].height
    assert account == (in_manifest, loaded, in_manifest - loaded)
    csv = pl.read_csv(home.delivery_out(QUARTER, PRACTICE) / "quarantine.csv")
    assert csv.height == len(quarantined)


def test_a_malformed_line_is_quarantined_with_its_line_number(home, tmp_path):
    folder = deliver(tmp_path / "landing")
    lines = (folder / "episodes.csv").read_bytes().split(b"\n")
    lines.insert(2, b"patientAAAA0001,R96,2020-01-01,,surplus")
    lines.insert(3, b'patientAAAA0001,"R96,2020-01-01,')
    replace_file(folder, "episodes.csv", b"\n".join(lines), rows=6)
    outcome = ingest_delivery(home, folder)
    assert outcome.status == "loaded"
    reasons = dict(outcome.check.quarantine.select("line", "reason").iter_rows())
    assert reasons == {
        3: "malformed line: 5 fields where the header has 4",
        4: "malformed line: a quote is not closed",
    }
    assert outcome.check.files["episodes.csv"].rows_loaded == 4


def test_a_patient_id_that_is_not_unique_quarantines_both_and_their_rows(home, tmp_path):
    tables = with_rows(
        "patients.csv",
        {
            "patient_id": A,
            "birth_year": 1941,
            "birth_month": 3,
            "sex": "V",
            "wijk_code": "WK034403",
            "pc4": None,
            "registered_from": D(1990, 1, 1),
            "registered_until": None,
            "end_reason": None,
        },
    )
    outcome = ingest_delivery(home, deliver(tmp_path / "landing", tables))
    q = outcome.check.quarantine
    assert set(q.filter(pl.col("file") == "patients.csv")["line"]) == {2, 5}
    assert outcome.check.files["episodes.csv"].rows_quarantined == 2  # patient A's two episodes
    assert outcome.check.files["patients.csv"].rows_loaded == 2


def test_every_row_is_loaded_or_quarantined_and_counted(home, tmp_path):
    tables = with_values("episodes.csv", "icpc", ["F94", "bad", "R96", "K86"])
    outcome = ingest_delivery(home, deliver(tmp_path / "landing", tables))
    with duckdb.connect(str(home.database), read_only=True) as conn:
        for file in FILES:
            manifest, loaded, quarantined, in_store, lines = conn.execute(
                f"SELECT d.{file.table}_rows_manifest, d.{file.table}_rows_loaded, d.{file.table}_rows_quarantined, "
                f"(SELECT count(*) FROM {file.table}), "
                f"(SELECT count(DISTINCT line) FROM quarantine WHERE file = '{file.name}') FROM deliveries d"
            ).fetchall()[0]
            assert manifest == loaded + quarantined == base_tables()[file.name].height
            assert (in_store, lines) == (loaded, quarantined)
    assert outcome.check.validation["episodes.csv"]["success"]


# --- reading: any dialect the contract allows reads to the same table -------------------------

dialects = st.builds(
    Dialect,
    vendor=st.just("any"),
    separator=st.sampled_from([";", ","]),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]),
    date_format=st.sampled_from(["%Y-%m-%d", "%d-%m-%Y"]),
    header_case=st.sampled_from(["lower", "upper", "title"]),
    decimal_comma=st.booleans(),
    line_ending=st.sampled_from(["\n", "\r\n"]),
    female_code=st.sampled_from(["V", "F"]),
)


def _staged(tmp_path: Path, dialect: Dialect, n: int) -> dict[str, pl.DataFrame]:
    folder = deliver(tmp_path / f"landing{n}", dialect=dialect)
    check = check_delivery(folder, tmp_path / f"stage{n}")
    assert check.accepted, check.refusal_reason
    assert check.quarantine.is_empty() and check.stage_dir is not None
    return {f.table: pl.read_parquet(check.stage_dir / f"{f.table}.parquet").sort("line") for f in FILES}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dialect=dialects)
def test_any_mix_of_separator_encoding_date_format_and_header_case_reads_the_same(tmp_path_factory, dialect):
    tmp = tmp_path_factory.mktemp("dialect")
    reference = _staged(tmp, VENDOR_DIALECTS[1], 0)
    for table, frame in _staged(tmp, dialect, 1).items():
        if (
            table == "determinations"
        ):  # value keeps the text as registered ("72,5"); value_number is the number
            frame, reference[table] = frame.drop("value"), reference[table].drop("value")
        assert_frame_equal(frame, reference[table])


# --- atomic and idempotent -----------------------------------------------------------------


def _snapshot(database: Path) -> dict[str, list]:
    with duckdb.connect(str(database), read_only=True) as conn:
        return {
            t: sorted(conn.execute(f"SELECT * EXCLUDE (line) FROM {t}").fetchall(), key=str)
            for t in (file.table for file in FILES)
        } | {
            "deliveries": conn.execute(
                "SELECT manifest_sha256, status FROM deliveries ORDER BY received_at"
            ).fetchall()
        }


def test_the_same_delivery_twice_changes_nothing(home, tmp_path):
    folder = deliver(tmp_path / "landing")
    assert ingest_delivery(home, folder).status == "loaded"
    before = _snapshot(home.database)
    assert ingest_delivery(home, folder).status == "unchanged"
    assert _snapshot(home.database) == before


def test_a_redelivery_replaces_the_practice_quarter_as_a_whole(home, tmp_path):
    earlier = deliver(tmp_path / "landing", quarter="2026Q2", extracted_on=D(2026, 7, 3))
    loaded_earlier = ingest_delivery(home, earlier).check.files["patients.csv"].rows_loaded
    ingest_delivery(home, deliver(tmp_path / "landing"))
    smaller = base_tables()
    smaller["patients.csv"] = smaller["patients.csv"].filter(pl.col("patient_id") != C)
    smaller["episodes.csv"] = smaller["episodes.csv"].filter(pl.col("patient_id") != C)
    assert ingest_delivery(home, deliver(tmp_path / "landing", smaller)).status == "loaded"
    with duckdb.connect(str(home.database), read_only=True) as conn:
        per_quarter = dict(conn.execute("SELECT quarter, count(*) FROM patients GROUP BY ALL").fetchall())
        assert per_quarter == {"2026Q2": loaded_earlier, QUARTER: 2}
        assert conn.execute("SELECT count(*) FROM current_deliveries").fetchall() == [(2,)]
        assert conn.execute("SELECT count(*) FROM deliveries").fetchall() == [(3,)]


def test_a_failure_halfway_through_a_load_leaves_the_store_as_before(home, tmp_path):
    ingest_delivery(home, deliver(tmp_path / "landing"))
    before = _snapshot(home.database)
    changed = with_values("episodes.csv", "icpc", ["F94", "F28", "R96", "K86"])
    folder = deliver(tmp_path / "landing", changed)
    check = check_delivery(folder, home.staging / "halfway")
    assert check.accepted
    # patients and episodes merge first; the prescriptions stage is gone, so the load fails halfway
    (check.stage_dir / "prescriptions.parquet").unlink()
    from omu import store

    with store.connect(home.database) as conn, pytest.raises(duckdb.Error):
        merge_delivery(conn, check, dt.datetime.now())
    assert _snapshot(home.database) == before


KILL_SCRIPT = """
import datetime as dt, sys
from pathlib import Path
from omu import store
from omu.ingest.delivery import check_delivery
from omu.ingest.load import delivery_row, merge_sql
from omu.sql import set_variables, sql_file_text
check = check_delivery(Path(sys.argv[1]), Path(sys.argv[2]))
with store.connect(Path(sys.argv[3])) as conn:
    conn.register("delivery_row", delivery_row(check, dt.datetime.now()))
    set_variables(conn, {"practice_id": check.practice_id, "quarter": check.quarter,
                         "stage_dir": str(check.stage_dir), "retention": 4})
    conn.execute("BEGIN TRANSACTION")
    for part in merge_sql():
        conn.execute(sql_file_text(part))
    print("merged, not committed", flush=True)
    sys.stdin.read()  # wait here, inside the transaction, until killed
"""


def test_a_kill_in_the_middle_of_a_load_leaves_the_store_as_before(home, tmp_path):
    ingest_delivery(home, deliver(tmp_path / "landing"))
    before = _snapshot(home.database)
    folder = deliver(tmp_path / "landing", with_values("episodes.csv", "icpc", ["F94", "F28", "R96", "K86"]))
    process = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(folder), str(home.staging / "kill"), str(home.database)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stdout.readline().strip() == "merged, not committed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert _snapshot(home.database) == before


def test_retention_keeps_the_last_deliveries_per_practice(home, tmp_path):
    first = Quarter.parse("2025Q2")
    for offset in range(6):
        quarter = first.shift(offset)
        deliver(
            tmp_path / "landing",
            quarter=str(quarter),
            extracted_on=quarter.reference_date + dt.timedelta(days=3),
        )
        ingest_delivery(home, tmp_path / "landing" / PRACTICE / str(quarter), retention=4)
    with duckdb.connect(str(home.database), read_only=True) as conn:
        kept = [q for (q,) in conn.execute("SELECT DISTINCT quarter FROM patients ORDER BY 1").fetchall()]
        dropped = conn.execute(
            "SELECT quarter FROM deliveries WHERE raw_dropped_at IS NOT NULL ORDER BY 1"
        ).fetchall()
    assert kept == ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    assert dropped == [("2025Q2",), ("2025Q3",)]


# --- the committed sample data ---------------------------------------------------------------

SAMPLE = Path(__file__).resolve().parent.parent / "sample_data" / "landing"


@pytest.mark.skipif(not SAMPLE.is_dir(), reason="sample_data/landing not generated yet")
def test_all_of_sample_data_loads_without_quarantine(home):
    deliveries = sorted(SAMPLE.glob("*/*/manifest.json"))
    assert len(deliveries) == 6  # 3 practices x 2 quarters
    for manifest in deliveries:
        outcome = ingest_delivery(home, manifest.parent)
        assert outcome.status == "loaded", outcome.reason
        assert outcome.check.quarantine.is_empty(), outcome.check.quarantine_by_reason()
