"""Run the project's SQL files (sql/<step>/<name>.sql) against a DuckDB connection.

Set-based work lives in those files; Python only chooses which file runs, with which
parameters (as DuckDB variables, read in SQL with getvariable('name')).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from typing import Any

import duckdb

from omu.home import REPO_ROOT

SQL_DIR = REPO_ROOT / "sql"


_GLOB_CHARACTERS = str.maketrans({"[": "[[]", "*": "[*]", "?": "[?]"})


def literal_path(path: str | os.PathLike) -> str:
    """A path for DuckDB's file readers (read_csv, read_parquet) that names exactly that file: they
    expand [ ], * and ? as a glob even in a list of paths, so each is put in a class of its own."""
    return os.fspath(path).translate(_GLOB_CHARACTERS)


@cache
def sql_text(name: str) -> str:
    """'ingest/patients' -> the text of sql/ingest/patients.sql."""
    return (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")


def set_variables(conn: duckdb.DuckDBPyConnection, variables: Mapping[str, Any]) -> None:
    for name, value in variables.items():
        conn.execute(f"SET VARIABLE {name} = $1", [value])


def run_sql(conn: duckdb.DuckDBPyConnection, name: str, variables: Mapping[str, Any] | None = None) -> None:
    """Run every statement of sql/<name>.sql, after setting the given variables."""
    if variables:
        set_variables(conn, variables)
    conn.execute(sql_text(name))


def run_sql_in_transaction(
    conn: duckdb.DuckDBPyConnection, names: str | list[str], variables: Mapping[str, Any] | None = None
) -> None:
    """Run sql/<name>.sql file(s) as one transaction: all of it takes effect, or none (also on a kill)."""
    if variables:
        set_variables(conn, variables)
    conn.execute("BEGIN TRANSACTION")
    try:
        for name in [names] if isinstance(names, str) else names:
            conn.execute(sql_text(name))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def query(conn: duckdb.DuckDBPyConnection, name: str, variables: Mapping[str, Any] | None = None):
    """Run a SQL file whose last statement is a SELECT and return it as a DuckDB relation."""
    if variables:
        set_variables(conn, variables)
    return conn.sql(sql_text(name))


def fetch_one(
    conn: duckdb.DuckDBPyConnection, statement: str, parameters: list | None = None
) -> tuple | None:
    """The first row of a query, or None. (DuckDB 2 keeps a result open until it is read to the end,
    so fetchone() would block the connection; this reads it whole.)"""
    rows = conn.execute(statement, parameters or []).fetchall()
    return rows[0] if rows else None


def fetch_dicts(
    conn: duckdb.DuckDBPyConnection, statement: str, parameters: list | None = None
) -> list[dict]:
    cursor = conn.execute(statement, parameters or [])
    rows = cursor.fetchall()
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in rows]
