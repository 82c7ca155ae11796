"""The DuckDB store: one database file in the omu home, one writer at a time.

DuckDB allows a single process to open a database file for writing. Dagster may run partitions
in parallel processes, so every connection is taken under an exclusive file lock next to the
database (`omu.duckdb.lock`): a second process waits instead of failing or corrupting the file.
Heavy work (reading CSV, typing, validation) happens before, outside the lock, on staged files;
the lock is held only for the short merge or query.
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

from omu.sql import run_sql

_in_process = threading.RLock()  # fcntl locks are per process; threads queue here


class StoreBusy(Exception):
    pass


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
            run_sql(conn, "store/schema")
            yield conn
        finally:
            conn.close()
