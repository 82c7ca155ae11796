"""The store's tables are contracts for analysts: their names, column names, types, order and
nullability stay exactly as written down here, however the schema is produced. Real DuckDB files."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deliveries import delivery_tables

from omu import store
from omu.contract import Column, ContractFile
from omu.home import OmuHome
from omu.sql import SQL_DIR, sql_text
from omu.synthetic import VENDOR_DIALECTS, write_delivery

KEY = [("practice_id", "VARCHAR", "NO"), ("quarter", "VARCHAR", "NO"), ("line", "BIGINT", "NO")]

# The columns of sql/store/schema.sql when it listed every raw table by hand.
EXPECTED_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "patients": [
        *KEY,
        ("patient_id", "VARCHAR", "NO"),
        ("birth_year", "INTEGER", "NO"),
        ("birth_month", "INTEGER", "YES"),
        ("sex", "VARCHAR", "NO"),
        ("wijk_code", "VARCHAR", "NO"),
        ("pc4", "VARCHAR", "YES"),
        ("registered_from", "DATE", "NO"),
        ("registered_until", "DATE", "YES"),
        ("end_reason", "VARCHAR", "YES"),
    ],
    "episodes": [
        *KEY,
        ("patient_id", "VARCHAR", "NO"),
        ("icpc", "VARCHAR", "NO"),
        ("start_date", "DATE", "NO"),
        ("end_date", "DATE", "YES"),
    ],
    "prescriptions": [
        *KEY,
        ("patient_id", "VARCHAR", "NO"),
        ("atc", "VARCHAR", "NO"),
        ("prescribed_on", "DATE", "NO"),
        ("quantity", "DOUBLE", "YES"),
        ("duration_days", "INTEGER", "YES"),
    ],
    "determinations": [
        *KEY,
        ("patient_id", "VARCHAR", "NO"),
        ("code", "INTEGER", "NO"),
        ("measured_on", "DATE", "NO"),
        ("value", "VARCHAR", "NO"),
        ("value_number", "DOUBLE", "YES"),
    ],
    "contacts": [
        *KEY,
        ("patient_id", "VARCHAR", "NO"),
        ("contact_on", "DATE", "NO"),
        ("kind", "VARCHAR", "NO"),
    ],
    "quarantine": [
        ("practice_id", "VARCHAR", "NO"),
        ("quarter", "VARCHAR", "NO"),
        ("file", "VARCHAR", "NO"),
        ("line", "BIGINT", "NO"),
        ("column", "VARCHAR", "YES"),
        ("value", "VARCHAR", "YES"),
        ("reason", "VARCHAR", "NO"),
    ],
    "deliveries": [
        ("practice_id", "VARCHAR", "NO"),
        ("quarter", "VARCHAR", "NO"),
        ("manifest_sha256", "VARCHAR", "NO"),
        ("received_at", "TIMESTAMP", "NO"),
        ("status", "VARCHAR", "NO"),
        ("reason", "VARCHAR", "YES"),
        ("contract_version", "INTEGER", "YES"),
        ("extracted_on", "DATE", "YES"),
        ("his_vendor", "VARCHAR", "YES"),
        ("pseudonym_key_id", "VARCHAR", "YES"),
        ("raw_dropped_at", "TIMESTAMP", "YES"),
        *(
            (f"{table}_rows_{count}", "BIGINT", "YES")
            for table in ("patients", "episodes", "prescriptions", "determinations", "contacts")
            for count in ("manifest", "loaded", "quarantined")
        ),
    ],
}


def columns(conn: duckdb.DuckDBPyConnection, table: str) -> list[tuple[str, str, str]]:
    return conn.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
        [table],
    ).fetchall()


@pytest.mark.parametrize("table", list(EXPECTED_COLUMNS))
def test_a_new_store_has_the_tables_analysts_know(tmp_path, table):
    with store.connect(tmp_path / "omu.duckdb") as conn:
        assert columns(conn, table) == EXPECTED_COLUMNS[table]


def test_the_delivery_in_force_has_every_column_of_deliveries(tmp_path):
    with store.connect(tmp_path / "omu.duckdb") as conn:
        assert [name for name, _, _ in columns(conn, "current_deliveries")] == [
            name for name, _, _ in EXPECTED_COLUMNS["deliveries"]
        ]


def test_opening_a_store_again_changes_no_table(tmp_path):
    with store.connect(tmp_path / "omu.duckdb") as conn:
        conn.execute(
            "INSERT INTO episodes VALUES ('P1', '2026Q3', 2, 'patientAAAA0001', 'F94', DATE '2020-01-01', NULL)"
        )
    with store.connect(tmp_path / "omu.duckdb") as conn:
        for table, expected in EXPECTED_COLUMNS.items():
            assert columns(conn, table) == expected, table
        assert conn.execute("SELECT count(*) FROM episodes").fetchall() == [(1,)]


# A file the contract does not have, added the way docs/ingest.md says: one more entry in
# omu/contract.py's FILES, and nothing else (its typing is made from the entry: omu/ingest/typing.py).
REFERRALS_ENTRY = """    ContractFile(
        "referrals.csv",
        (
            _PATIENT_ID,
            Column("specialty", "text"),
            Column("referred_on", "date"),
            Column("urgent", "int", required=False, minimum=0, maximum=1),
        ),
        required=False,
        description="referrals.csv (optional): referrals to medical specialists.",
    ),
"""
# Runs omu with that edit made to omu/contract.py's text before anything else reads the contract.
WITH_REFERRALS = """
import sys
from pathlib import Path
import omu.contract as contract

source = Path(contract.__file__).read_text(encoding="utf-8")
anchor = "\\n)\\n\\nFILES_BY_NAME"
assert source.count(anchor) == 1
exec(compile(source.replace(anchor, "\\n" + sys.argv[1] + ")\\n\\nFILES_BY_NAME"), contract.__file__, "exec"),
     contract.__dict__)

from omu.home import OmuHome
from omu.ingest.load import ingest_delivery
from omu.store import connect

home = OmuHome(Path(sys.argv[2]))
for folder in sys.argv[3:]:
    outcome = ingest_delivery(home, Path(folder), retention=1)
    with connect(home.database) as conn:
        stored = conn.execute("SELECT quarter, count(*) FROM referrals GROUP BY ALL ORDER BY ALL").fetchall()
    print(outcome.status, outcome.reason or "", *(f"{quarter}:{rows}" for quarter, rows in stored), flush=True)

from omu.assets.ingest import INGEST_SPECS

print("assets", *(spec.key.to_user_string() for spec in INGEST_SPECS))
"""


A, B = "patientAAAA0001", "patientBBBB0002"
D = dt.date


def deliver(landing: Path, quarter: str, extracted_on: dt.date) -> Path:
    """Two patients, a row in each required file, and five referrals: two that load, one of an
    unknown patient, one with urgent out of range and one without its specialty."""
    tables = delivery_tables(
        patients=[
            (A, 1950, 4, "V", "WK034403", "3563", D(2000, 1, 1), None, None),
            (B, 1962, None, "M", "WK034406", None, D(2001, 5, 1), None, None),
        ],
        episodes=[(A, "T90", D(2015, 3, 1), None)],
        prescriptions=[(A, "A10BA02", D(2026, 6, 1), 90.0, 90)],
        determinations=[(A, 382, D(2026, 6, 2), "7,1")],
    )
    tables["referrals.csv"] = pl.DataFrame(
        [
            (A, "cardiologie", D(2026, 6, 1), 1),
            (B, "longziekten", D(2026, 5, 1), None),
            ("patientXXXX0009", "cardiologie", D(2026, 5, 2), 0),
            (A, "neurologie", D(2026, 5, 3), 5),
            (B, None, D(2026, 5, 4), 0),
        ],
        orient="row",
        schema={"patient_id": pl.String, "specialty": pl.String, "referred_on": pl.Date, "urgent": pl.Int64},
    )
    return write_delivery(
        landing / "P0100" / quarter,
        practice_id="P0100",
        quarter=quarter,
        extracted_on=extracted_on,
        tables=tables,
        dialect=VENDOR_DIALECTS[1],
    )


def test_a_contract_file_added_in_one_entry_is_typed_stored_merged_retained_and_quarantined(tmp_path):
    assert not (SQL_DIR / "ingest" / "referrals.sql").exists()  # no typing SQL of its own
    home = OmuHome.resolve(tmp_path / "home").prepare()
    folders = [
        deliver(tmp_path / "landing", "2026Q2", D(2026, 7, 6)),
        deliver(tmp_path / "landing", "2026Q3", D(2026, 10, 5)),
    ]
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            WITH_REFERRALS,
            REFERRALS_ENTRY,
            str(home.root),
            *map(str, folders),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    # each delivery merged its referrals; with retention 1 the second drops the first's raw rows
    assert run.stdout.splitlines()[:2] == ["loaded  2026Q2:2", "loaded  2026Q3:2"], run.stdout
    # and its raw table is an asset of the ingest group
    assert run.stdout.splitlines()[2].split()[1:] == [
        "patients",
        "episodes",
        "prescriptions",
        "determinations",
        "contacts",
        "referrals",
        "quarantine",
        "deliveries",
    ]

    with duckdb.connect(str(home.database), read_only=True) as conn:
        # its raw table, from its typed columns
        assert columns(conn, "referrals") == [
            *KEY,
            ("patient_id", "VARCHAR", "NO"),
            ("specialty", "VARCHAR", "NO"),
            ("referred_on", "DATE", "NO"),
            ("urgent", "INTEGER", "YES"),
        ]
        # its row counts in deliveries, after the other files'
        counts = [
            (f"referrals_rows_{count}", "BIGINT", "YES") for count in ("manifest", "loaded", "quarantined")
        ]
        assert columns(conn, "deliveries") == EXPECTED_COLUMNS["deliveries"] + counts
        assert conn.execute(
            "SELECT quarter, referrals_rows_manifest, referrals_rows_loaded, referrals_rows_quarantined, "
            "raw_dropped_at IS NOT NULL FROM current_deliveries ORDER BY quarter"
        ).fetchall() == [("2026Q2", 5, 2, 3, True), ("2026Q3", 5, 2, 3, False)]
        assert conn.execute(
            "SELECT quarter, patient_id, specialty, referred_on, urgent FROM referrals ORDER BY line"
        ).fetchall() == [
            ("2026Q3", A, "cardiologie", D(2026, 6, 1), 1),
            ("2026Q3", B, "longziekten", D(2026, 5, 1), None),
        ]
        assert conn.execute("SELECT DISTINCT quarter FROM patients").fetchall() == [("2026Q3",)]
        # its problems in the quarantine, named by file, line and column
        assert conn.execute(
            'SELECT line, "column", value, reason FROM quarantine '
            "WHERE quarter = '2026Q3' AND file = 'referrals.csv' ORDER BY line"
        ).fetchall() == [
            (4, "patient_id", "patientXXXX0009", "unknown patient_id (not loaded from patients.csv)"),
            (5, "urgent", "5", "number out of range 0-1"),
            (6, "specialty", None, "missing required value"),
        ]


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (None, "sql/ingest/merge_table.sql is a per-table file: give its table"),
        ("patients; DROP TABLE deliveries", "is no table name"),
        ("Patients", "is no table name"),
    ],
)
def test_a_per_table_sql_file_runs_for_a_table_name_only(table, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        sql_text("ingest/merge_table", table)


def test_a_shared_sql_file_runs_for_no_table():
    with pytest.raises(ValueError, match=re.escape("sql/ingest/merge.sql has no {table}")):
        sql_text("ingest/merge", "patients")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: ContractFile("referrals.txt", (Column("patient_id", "text"),)), "must be <table>.csv"),
        (lambda: ContractFile("Referrals.csv", (Column("patient_id", "text"),)), "must be <table>.csv"),
        (lambda: Column("referred on", "date"), "the name must match"),
        (lambda: Column("referred_on", "datetime"), "the kind be one of"),
        (
            lambda: ContractFile(
                "referrals.csv", (Column("patient_id", "text"), Column("patient_id", "text"))
            ),
            "a column is named twice",
        ),
    ],
)
def test_a_contract_entry_that_cannot_name_a_table_or_column_is_refused(make, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make()


def test_a_contract_column_cannot_take_a_raw_table_key_name():
    file = ContractFile("referrals.csv", (Column("patient_id", "text"), Column("quarter", "text")))
    with pytest.raises(ValueError, match="quarter is a column of every raw table"):
        store.raw_table_ddl(file)
