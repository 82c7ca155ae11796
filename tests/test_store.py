"""The store's tables are contracts for analysts: their names, column names, types, order and
nullability stay exactly as written down here, however the schema is produced. Real DuckDB files."""

from __future__ import annotations

import duckdb
import pytest

from omu import store

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
