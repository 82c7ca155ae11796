"""The DuckDB store: one database file in the omu home, one writer at a time.

DuckDB allows a single process to open a database file for writing. Dagster may run partitions
in parallel processes, so every connection is taken under an exclusive file lock next to the
database (`omu.duckdb.lock`): a second process waits instead of failing or corrupting the file.
Heavy work (reading CSV, typing, validation) happens before, outside the lock, on staged files;
the lock is held only for the short merge or query.

The schema (create_schema, on every connect): sql/store/schema.sql holds the tables all contract
files share (quarantine, deliveries); each file of omu.contract.FILES adds its raw table
(raw_table_ddl, from the file's typed columns) and its three row counts in `deliveries`
(sql/store/deliveries_counts.sql); sql/store/views.sql comes last (current_deliveries). Each only
adds what is missing, so a store made before a contract file was added gains its table and columns
when it is next opened.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from omu.contract import FILES, SQL_TYPES, ContractFile
from omu.sql import run_sql

_in_process = threading.RLock()  # fcntl locks are per process; threads queue here


# Every raw table's first columns: whose delivery (practice and quarter) and which line of its file.
RAW_KEY_COLUMNS = (("practice_id", "VARCHAR"), ("quarter", "VARCHAR"), ("line", "BIGINT"))


class StoreBusy(Exception):
    pass


def raw_table_ddl(file: ContractFile) -> str:
    """CREATE TABLE IF NOT EXISTS for a contract file's raw table: the key columns, then its typed
    columns in contract order, NOT NULL where the contract requires a value."""
    taken = {name for name, _ in RAW_KEY_COLUMNS} & {column.name for column in file.typed_columns}
    if taken:
        raise ValueError(
            f"contract file {file.name}: {', '.join(sorted(taken))} is a column of every raw table"
        )
    columns = [f'"{name}" {sql_type} NOT NULL' for name, sql_type in RAW_KEY_COLUMNS] + [
        f'"{column.name}" {SQL_TYPES[column.kind]}' + (" NOT NULL" if column.required else "")
        for column in file.typed_columns
    ]
    return f'CREATE TABLE IF NOT EXISTS "{file.table}" (\n    ' + ",\n    ".join(columns) + "\n);"


def create_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """The store's tables, where missing: the shared ones, then per contract file its raw table and
    its row counts in deliveries (in FILES order, which is the columns' order); then the views."""
    run_sql(conn, "store/schema")
    for file in FILES:
        conn.execute(raw_table_ddl(file))
        run_sql(conn, "store/deliveries_counts", table=file.table)
    run_sql(conn, "store/views")


@contextmanager
def store_lock(database: Path, timeout_seconds: float = 3600) -> Iterator[None]:
    lock_path = Path(f"{database}.lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with _in_process, lock_path.open("a+") as handle:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError as error:
                if time.monotonic() > deadline:
                    raise StoreBusy(
                        f"the store {database} stayed locked for {timeout_seconds:.0f} s"
                    ) from error
                time.sleep(0.05)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"{os.getpid()}\n")
            handle.flush()
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


@contextmanager
def connect(database: Path, *, memory_limit: str | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the store, under the store lock, with the schema in place."""
    database = Path(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    with store_lock(database):
        conn = duckdb.connect(str(database))
        try:
            # DuckDB 2.0's dictionary-aware caching operator fails with an internal "dict-surviving
            # cache" error on some city-scale joins (sql/model/features.sql) and then invalidates the
            # database for this process (duckdb/duckdb#23447; docs/scaling.md). Off for the store.
            conn.execute("SET enable_caching_operators = false")
            if memory_limit:
                conn.execute(f"SET memory_limit = '{memory_limit}'")
            create_schema(conn)
            yield conn
        finally:
            conn.close()
