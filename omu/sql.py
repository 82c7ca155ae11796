"""Run the project's SQL files (sql/<step>/<name>.sql) against a DuckDB connection.

Set-based work lives in those files; Python only chooses which file runs, with which
parameters (as DuckDB variables, read in SQL with getvariable('name')) and inputs (temp tables).
A *per-table* file (the store's per contract file SQL, sql/ingest/merge_table.sql ...) names its
table `{table}`: the one placeholder, replaced only by a checked identifier (the table names come
from omu/contract.py, never from input); values always travel as variables, never as text.
No hidden state: the function that runs a file sets its variables and registers its input tables
right before (run_sql's `variables`, register_temp_table), and no later function relies on them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import duckdb
import polars as pl

from omu.resources import SQL_DIR

TABLE = "{table}"  # the placeholder of a per-table SQL file
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")  # what may replace it
# A SQL file to run: its name, or (the name of a per-table file, the table it runs for)
SqlFile = str | tuple[str, str]

_GLOB_CHARACTERS = str.maketrans({"[": "[[]", "*": "[*]", "?": "[?]"})


def literal_path(path: str | os.PathLike) -> str:
    """A path for DuckDB's file readers (read_csv, read_parquet) that names exactly that file: they
    expand [ ], * and ? as a glob even in a list of paths, so each is put in a class of its own."""
    return os.fspath(path).translate(_GLOB_CHARACTERS)


@cache
def sql_text(name: str, table: str | None = None) -> str:
    """'ingest/patients' -> the text of sql/ingest/patients.sql; a per-table file's text is for one
    table (its {table} replaced by that name). A per-table file without a table, or a table for a
    file that has no placeholder, is an error rather than SQL that runs for the wrong table."""
    text = (SQL_DIR / f"{name}.sql").read_text(encoding="utf-8")
    if (TABLE in text) != (table is not None):
        raise ValueError(
            f"sql/{name}.sql is a per-table file: give its table"
            if table is None
            else f"sql/{name}.sql has no {TABLE}: it cannot run for table {table!r}"
        )
    if table is None:
        return text
    if IDENTIFIER.fullmatch(table) is None:
        raise ValueError(f"{table!r} is no table name (a-z, 0-9 and '_', starting with a letter)")
    return text.replace(TABLE, table)


def sql_file_exists(name: str) -> bool:
    """Whether sql/<name>.sql exists (a file's own typing SQL, which then replaces the generated)."""
    return (SQL_DIR / f"{name}.sql").is_file()


def sql_file_text(file: SqlFile) -> str:
    """The text of a SqlFile: a file's, or a per-table file's for its table."""
    return sql_text(file) if isinstance(file, str) else sql_text(*file)


def register_temp_table(conn: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    """A polars frame as temp table `table`: an input handed to the SQL its caller runs next."""
    conn.register(f"{table}_frame", frame)
    try:
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
    finally:
        conn.unregister(f"{table}_frame")


def set_variables(conn: duckdb.DuckDBPyConnection, variables: Mapping[str, Any]) -> None:
    """A dict becomes a DuckDB MAP (getvariable('name')[key]); anything else as it is."""
    for name, value in variables.items():
        if isinstance(value, Mapping):
            conn.execute(f"SET VARIABLE {name} = MAP($1, $2)", [list(value), list(value.values())])
        else:
            conn.execute(f"SET VARIABLE {name} = $1", [value])


def reference_variables(names: Sequence[SqlFile]) -> dict[str, Any]:
    """The vocabularies of clinical/reference/ (omu.reference) that these SQL files read with
    getvariable: each SQL file gets them from their one definition without its caller passing them
    (likewise the temp table reference_wijken, see _prepare)."""
    from omu.reference import sql_variables

    texts = [sql_file_text(name) for name in names]
    return {
        variable: value
        for variable, value in sql_variables().items()
        if any(f"getvariable('{variable}')" in text for text in texts)
    }


def _prepare(
    conn: duckdb.DuckDBPyConnection, names: Sequence[SqlFile], variables: Mapping[str, Any] | None
) -> None:
    set_variables(conn, {**reference_variables(names), **(variables or {})})
    if any("reference_wijken" in sql_file_text(name) for name in names):
        from omu.reference import register_wijken

        register_wijken(conn)


def run_sql(
    conn: duckdb.DuckDBPyConnection,
    name: str,
    variables: Mapping[str, Any] | None = None,
    *,
    table: str | None = None,
) -> None:
    """Run every statement of sql/<name>.sql (a per-table file: for `table`), after setting the
    given variables."""
    file: SqlFile = name if table is None else (name, table)
    _prepare(conn, [file], variables)
    conn.execute(sql_file_text(file))


def run_sql_in_transaction(
    conn: duckdb.DuckDBPyConnection,
    names: str | Sequence[SqlFile],
    variables: Mapping[str, Any] | None = None,
) -> None:
    """Run sql/<name>.sql file(s), in order, as one transaction: all of it takes effect, or none
    (also on a kill). A per-table file is given as (name, table)."""
    names = [names] if isinstance(names, str) else list(names)
    _prepare(conn, names, variables)
    conn.execute("BEGIN TRANSACTION")
    try:
        for name in names:
            conn.execute(sql_file_text(name))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def query(conn: duckdb.DuckDBPyConnection, name: str, variables: Mapping[str, Any] | None = None):
    """Run a SQL file whose last statement is a SELECT and return it as a DuckDB relation."""
    _prepare(conn, [name], variables)
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
