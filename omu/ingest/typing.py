"""The typing of one contract file: raw_<table> (text + line) -> checked_<table>, accepted_<table>.

A file with rules beyond its columns' kinds has them hand-written in sql/ingest/<table>.sql, which
then runs. A *plain* file has none: its typing is made here from its contract entry, one
expression per column by kind, with the same macros (sql/ingest/macros.sql) and the same reasons
as the hand-written files, then sql/ingest/typing_table.sql flags duplicates and keeps the rows
without problems. Column names come only from the contract (checked identifiers); its patterns,
value sets and ranges travel as DuckDB variables (typing_<column>_pattern, ...), never as text.
"""

from __future__ import annotations

from typing import Any

import duckdb

from omu.contract import Column, ContractFile
from omu.sql import run_sql, set_variables, sql_file_exists

INTEGER_MAXIMUM = 2_147_483_647  # an int column is stored as INTEGER

# How each kind of column is read from its text ({c}: the column); codes are lower-cased.
TYPED = {
    "text": '"{c}"',
    "code": 'lower("{c}")',
    "date": 'omu_date("{c}")',
    "int": 'omu_int("{c}")::INTEGER',
    "number": 'omu_number("{c}")',
}


class HandWrittenTypingNeeded(ValueError):
    """A contract entry the generated typing cannot state: its file needs sql/ingest/<table>.sql."""


def hand_written(file: ContractFile) -> bool:
    return sql_file_exists(f"ingest/{file.table}")


def type_file(conn: duckdb.DuckDBPyConnection, file: ContractFile) -> None:
    """checked_<table> and accepted_<table> from raw_<table>: by the file's own SQL if it has one,
    else by the typing made from its entry."""
    if hand_written(file):
        run_sql(conn, f"ingest/{file.table}")
        return
    set_variables(conn, typing_variables(file))
    conn.execute(typed_table_sql(file))
    run_sql(conn, "ingest/typing_table", table=file.table)


def typed_table_sql(file: ContractFile) -> str:
    """CREATE typed_<table>: line, each column typed by its kind, and the problems of its values."""
    _check_plain(file)
    typed = [
        _typed(column) + ("" if column.kind == "text" else f' AS "{column.name}"') for column in file.columns
    ]
    problems = [check for column in file.columns for check in _checks(file, column)]
    return "\n".join(
        [
            f"CREATE OR REPLACE TEMP TABLE typed_{file.table} AS",
            "SELECT",
            "    line,",
            *(f"    {expression}," for expression in typed),
            "    omu_problems([",
            ",\n".join(f"        {check}" for check in problems),
            "    ]) AS problems",
            f"FROM raw_{file.table};",
        ]
    )


def typing_variables(file: ContractFile) -> dict[str, Any]:
    """The values the generated typing reads: each column's pattern, allowed values and range."""
    variables: dict[str, Any] = {}
    for column in file.columns:
        if column.pattern is not None and not _checked_as_patient(file, column):
            variables[f"typing_{column.name}_pattern"] = column.pattern
        if column.allowed is not None:
            variables[f"typing_{column.name}_allowed"] = list(column.allowed)
        if column.kind == "int":
            variables[f"typing_{column.name}_minimum"] = 0 if column.minimum is None else column.minimum
            variables[f"typing_{column.name}_maximum"] = (
                INTEGER_MAXIMUM if column.maximum is None else column.maximum
            )
    return variables


def _typed(column: Column) -> str:
    return TYPED[column.kind].format(c=column.name)


def _checked_as_patient(file: ContractFile, column: Column) -> bool:
    """A file that refers to patients checks its patient_id against the patients that load (whose
    ids already match the pattern), as the hand-written files do."""
    return file.references_patients and column.name == "patient_id"


def _checks(file: ContractFile, column: Column) -> list[str]:
    """The problem expressions of one column, in the order the hand-written files list them."""
    c, value = column.name, _typed(column)
    checks = [f"omu_missing('{c}', \"{c}\")"] if column.required else []
    if _checked_as_patient(file, column):
        checks.append(f'omu_check_known_patient("{c}")')
    elif column.pattern is not None:
        pattern = f"getvariable('typing_{c}_pattern')"
        checks.append(f"omu_check_pattern('{c}', \"{c}\", {pattern}, {pattern})")
    if column.kind == "date":
        checks.append(f"omu_check_date('{c}', \"{c}\")")
    elif column.kind == "int":
        checks.append(
            f"omu_check_int('{c}', \"{c}\", getvariable('typing_{c}_minimum'), getvariable('typing_{c}_maximum'))"
        )
    elif column.kind == "number":
        checks.append(f"omu_check_number('{c}', \"{c}\")")
    if column.allowed is not None:
        checks.append(f"omu_check_in('{c}', {value}, getvariable('typing_{c}_allowed'))")
    return checks


def _check_plain(file: ContractFile) -> None:
    """Refuse what the generated typing would not state, rather than silently not check it."""
    why = []
    if file.derived:
        why.append("derived columns")
    if file.unique:
        why.append("unique columns")
    for column in file.columns:
        if column.pattern is not None and column.kind != "text":
            why.append(f"a pattern on {column.kind} column {column.name}")
        if column.allowed is not None and column.kind not in ("text", "code"):
            why.append(f"allowed values of {column.kind} column {column.name}")
        if (
            column.allowed is not None
            and column.kind == "code"
            and any(v != v.lower() for v in column.allowed)
        ):
            why.append(
                f"allowed values of code column {column.name} not in lower case (codes are lower-cased)"
            )
        if (column.minimum is not None or column.maximum is not None) and column.kind != "int":
            why.append(f"a range on {column.kind} column {column.name}")
    if why:
        raise HandWrittenTypingNeeded(
            f"contract file {file.name}: its typing cannot be made from its entry ({'; '.join(why)}); "
            f"write sql/ingest/{file.table}.sql (docs/ingest.md, 'Adding a file to the contract')"
        )
