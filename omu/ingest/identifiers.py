"""Direct identifiers: which rules a column's values are judged by, and the data the SQL reads.

The judging itself is SQL (sql/common/identifiers.sql for one value, sql/ingest/direct_identifiers.sql
for a delivery). Here: the scope of each column (what it may legitimately hold, from the contract)
and the two lists kept as data: common names and identifier column names.
"""

from __future__ import annotations

import re
from functools import cache

import duckdb
import polars as pl

from omu.contract import FILES_BY_NAME
from omu.resources import data_path
from omu.sql import run_sql, set_variables

COMMON_NAMES = data_path("ingest", "common_names.csv")
IDENTIFIER_COLUMNS = data_path("ingest", "identifier_columns.csv")

KEY_COLUMNS = {("determinations.csv", "code")}  # a code number; patient_id (a pseudonym) in every file
FREE_TEXT = "text"


def scope(file_name: str, column: str) -> str:
    """What a column may hold, which decides the rules its values are judged by (see the SQL)."""
    contract_file = FILES_BY_NAME.get(file_name)
    declared = {c.name: c for c in contract_file.columns} if contract_file else {}
    if column == "patient_id" or (file_name, column) in KEY_COLUMNS:
        return "key"
    if column not in declared:  # outside the contract: what it may hold is unknown
        return "extra_birth" if file_name == "patients.csv" else "extra"
    if declared[column].kind == "date":
        return "date"
    if file_name == "patients.csv":
        return "birth"  # any other full date here is a date of birth
    return FREE_TEXT


@cache
def common_names_pattern() -> str:
    """The common names as one regular expression (a name matches whole, in lower case)."""
    names = pl.read_csv(COMMON_NAMES, infer_schema=False)["name"].str.to_lowercase().str.strip_chars()
    return "(" + "|".join(re.escape(name) for name in sorted(set(names.to_list()))) + ")"


@cache
def identifier_columns() -> pl.DataFrame:
    """Column names that are identifiers (normalised: lower case, letters and digits only); the
    first row that matches a column gives its kind."""
    return pl.read_csv(IDENTIFIER_COLUMNS, infer_schema=False).with_row_index("priority")


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    """The two lists and the judging macros, in this connection."""
    set_variables(conn, {"common_names_pattern": common_names_pattern()})
    conn.register("identifier_columns", identifier_columns())
    run_sql(conn, "common/identifiers")
