"""Parallel partitions against one store: worker processes and a snapshot of the store to compare.
Used by the concurrency tests and the run-queue benchmark, which both prove that parallel runs
give what a serial run gives.

A worker is a real process (`python -m omu.pipelines.parallel_workers ...`) that runs one practice's
deliveries, in quarter order, either through omu's functions (ingest_delivery + screen) or
through Dagster (screening_job.execute_in_process on the persistent instance of the omu home:
ingest, score_history, first_time_crossers). It records, per store connection, when it asked for
the store lock, when it got it and when it let go, so a test can prove that the lock was held by
one process at a time while the work outside it overlapped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from omu.contract import FILES

VOLATILE = {"received_at", "screened_at", "raw_dropped_at", "computed_at", "created_at"}
SNAPSHOT_TABLES = (*(file.table for file in FILES), "quarantine", "deliveries", "score_history")


def _record_lock_windows(windows: list[dict[str, float]]) -> None:
    from omu import store

    original = store.store_lock

    @contextmanager
    def recorded(database: Path, timeout_seconds: float = 3600) -> Iterator[None]:
        asked = time.time()
        with original(database, timeout_seconds):
            got = time.time()
            try:
                yield
            finally:
                windows.append({"asked": asked, "got": got, "released": time.time()})

    store.store_lock = recorded


def run_plain(home_root: Path, deliveries: list[Path]) -> list[dict[str, Any]]:
    """ingest_delivery, then screen() of what that delivery screens, for each delivery in order."""
    from omu import store
    from omu.home import OmuHome
    from omu.ingest.load import ingest_delivery
    from omu.screening.profile import load_profile
    from omu.screening.screen import screen

    home = OmuHome(home_root)
    profile = load_profile()
    out = []
    for delivery in deliveries:
        outcome = ingest_delivery(home, delivery)
        result: dict[str, Any] = {
            "delivery": f"{outcome.practice_id} {outcome.quarter}",
            "status": outcome.status,
        }
        if outcome.status == "loaded":
            with store.connect(home.database) as conn:
                screened = screen(
                    conn, profile, practice_id=outcome.practice_id, source_quarter=outcome.quarter
                )
            result["screened_rows"] = screened.rows
        out.append(result)
    return out


def run_dagster(home_root: Path, landing: Path, deliveries: list[Path]) -> list[dict[str, Any]]:
    """screening_job (ingest -> score_history -> first_time_crossers) per delivery, in this process,
    on the omu home's persistent Dagster instance."""
    import dagster as dg

    from omu.home import OmuHome
    from omu.pipelines.definitions import build_definitions
    from omu.pipelines.partitions import partition_key
    from omu.pipelines.runner import QUIET_LOGS

    home = OmuHome(home_root).prepare()
    definitions = build_definitions(home, str(landing))
    instance = dg.DagsterInstance.get()
    job = definitions.resolve_job_def("screening_job")
    out = []
    for delivery in deliveries:
        practice_id, quarter = delivery.parent.name, delivery.name
        result = job.execute_in_process(
            partition_key=partition_key(practice_id, quarter),
            instance=instance,
            run_config=QUIET_LOGS,
            raise_on_error=False,
            tags={"omu/practice": practice_id, "omu/quarter": quarter},
        )
        out.append(
            {
                "delivery": f"{practice_id} {quarter}",
                "status": "loaded" if result.success else "failed",
                "run_id": result.run_id,
            }
        )
    return out


def snapshot(database: Path) -> dict[str, list[tuple]]:
    """Every row of the store's tables, sorted, without the columns that hold clock times."""
    import duckdb

    out = {}
    with duckdb.connect(str(database), read_only=True) as conn:
        present = {name for (name,) in conn.sql("SELECT table_name FROM duckdb_tables()").fetchall()}
        for table in SNAPSHOT_TABLES:
            if table not in present:
                continue
            columns = [
                name
                for (name,) in conn.sql(
                    "SELECT column_name FROM duckdb_columns() WHERE table_name = $t ORDER BY column_index",
                    params={"t": table},
                ).fetchall()
                if name not in VOLATILE
            ]
            listed = ", ".join(f'"{c}"' for c in columns)
            out[table] = conn.sql(f"SELECT {listed} FROM {table} ORDER BY ALL").fetchall()
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m omu.pipelines.parallel_workers")
    p.add_argument("mode", choices=("plain", "dagster"))
    p.add_argument("--home", type=Path, required=True)
    p.add_argument("--landing", type=Path, required=True)
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("deliveries", nargs="+", type=Path)
    args = p.parse_args(argv)
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    windows: list[dict[str, float]] = []
    _record_lock_windows(windows)
    began = time.time()
    if args.mode == "plain":
        results = run_plain(args.home, args.deliveries)
    else:
        results = run_dagster(args.home, args.landing, args.deliveries)
    args.result.write_text(
        json.dumps(
            {
                "pid": os.getpid(),
                "began": began,
                "ended": time.time(),
                "results": results,
                "lock_windows": windows,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # without DuckDB 2's benign nanobind shutdown report
