"""National scale: synthetic practices straight to Parquet, and screening out-of-core over it.

Generation reuses the generator's own simulation (omu.synthetic.generator._simulate_practice and
delivery_tables, unchanged): the same practices, patients and records `generate` would write as
CSV, typed the way the store holds them after ingest (practice_id, quarter = delivery quarter,
line = the line the row would have in its CSV file), without writing or parsing any CSV.
Practices are written in chunks (one Parquet file per table and chunk) by worker processes; a
chunk already on disk is kept, so an interrupted generation resumes.

contacts.csv is simulated but not written at this scale: the screening profile has no contact
criterion, and national scale is screening only.

Screening runs omu's own screen() (sql/screening/, unchanged) on a separate DuckDB database in
which `patients`, `episodes`, `prescriptions` and `determinations` are views over the Parquet
files and `current_deliveries` is a small table, with `memory_limit` (default 8 GB) and a
temp directory on disk, so DuckDB spills what does not fit.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import json
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import polars as pl

TABLES = ("patients", "episodes", "prescriptions", "determinations")
QUARTER = "2026Q3"


def _chunk_done(out_dir: Path, chunk: int) -> bool:
    return all((out_dir / table / f"part-{chunk:05d}.parquet").is_file() for table in (*TABLES, "deliveries"))


def _typed(table: str, frame: pl.DataFrame, practice_id: str, quarter: str) -> pl.DataFrame:
    frame = frame.with_row_index("line", offset=2).with_columns(pl.col("line").cast(pl.Int64))
    frame = frame.with_columns(pl.lit(practice_id).alias("practice_id"), pl.lit(quarter).alias("quarter"))
    if table == "determinations":
        frame = frame.with_columns(
            pl.col("value")
            .str.replace(",", ".", literal=True)
            .cast(pl.Float64, strict=False)
            .alias("value_number")
        )
    first = ["practice_id", "quarter", "line"]
    return frame.select(first + [c for c in frame.columns if c not in first])


def generate_chunk(
    out_dir: str, chunk: int, numbers: list[int], seed: int, patients: tuple[int, int], history_years: int = 5
) -> dict[str, Any]:
    """Simulate practices `numbers` and write one Parquet file per table for them."""
    from omu.quarters import Quarter
    from omu.synthetic.generator import _public, _Reference, _simulate_practice, delivery_tables, practice_id

    began = time.perf_counter()
    out = Path(out_dir)
    if _chunk_done(out, chunk):
        return {"chunk": chunk, "skipped": True, "seconds": 0.0, "rows": {}, "patients_registered": 0}
    ref = _Reference.load()
    quarter = Quarter.parse(QUARTER)
    parts: dict[str, list[pl.DataFrame]] = {table: [] for table in TABLES}
    deliveries = []
    registered = 0
    for number in numbers:
        practice = _simulate_practice(number, [quarter], seed, patients, history_years, ref, False)
        pid = practice_id(number)
        frames = _public(delivery_tables(practice.tables, practice.extracted_on[quarter]))
        for table in TABLES:
            parts[table].append(_typed(table, frames[f"{table}.csv"], pid, QUARTER))
        deliveries.append(
            {
                "practice_id": pid,
                "quarter": QUARTER,
                "extracted_on": practice.extracted_on[quarter],
                "patients_registered": practice.patients_at_first_quarter,
            }
        )
        registered += practice.patients_at_first_quarter
    rows = {}
    for table in TABLES:
        frame = pl.concat(parts[table])
        rows[table] = frame.height
        folder = out / table
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f".part-{chunk:05d}.parquet.tmp"
        frame.write_parquet(partial, row_group_size=256_000)
        partial.rename(folder / f"part-{chunk:05d}.parquet")
    folder = out / "deliveries"
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".part-{chunk:05d}.parquet.tmp"
    pl.DataFrame(deliveries).write_parquet(partial)
    partial.rename(folder / f"part-{chunk:05d}.parquet")
    return {
        "chunk": chunk,
        "skipped": False,
        "seconds": time.perf_counter() - began,
        "rows": rows,
        "patients_registered": registered,
    }


def _worker_start() -> None:
    from benchmarks.ingest import _quiet_exit

    atexit.register(_quiet_exit)


def generate_national(
    out_dir: Path,
    *,
    practices: int,
    seed: int,
    patients: tuple[int, int],
    workers: int = 2,
    chunk_size: int = 50,
    progress=None,
) -> dict[str, Any]:
    """Every practice 1..practices in chunks; returns rows, registered patients and bytes written."""
    began = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    parameters = {
        "practices": practices,
        "seed": seed,
        "patients": list(patients),
        "chunk_size": chunk_size,
        "quarter": QUARTER,
    }
    record = out_dir / "parameters.json"
    if record.is_file() and json.loads(record.read_text()) != parameters:
        raise ValueError(
            f"{out_dir} holds national data made with other parameters ({record}); "
            "choose another --work folder"
        )
    record.write_text(json.dumps(parameters, indent=2))
    numbers = list(range(1, practices + 1))
    chunks = [numbers[i : i + chunk_size] for i in range(0, len(numbers), chunk_size)]
    results = []
    with ProcessPoolExecutor(
        max_workers=max(1, workers), mp_context=get_context("spawn"), initializer=_worker_start
    ) as pool:
        futures = [
            pool.submit(generate_chunk, str(out_dir), index, chunk, seed, patients)
            for index, chunk in enumerate(chunks)
        ]
        for done, future in enumerate(futures, start=1):
            results.append(future.result())
            if progress:
                progress(f"national chunk {done}/{len(chunks)}")
    summary = national_summary(out_dir) | {"chunks_generated_now": sum(not r["skipped"] for r in results)}
    if summary["chunks_generated_now"]:  # kept beside the data, for later runs that reuse it
        summary["seconds"] = time.perf_counter() - began
        summary["workers"] = workers
        (out_dir.parent / "generation.json").write_text(json.dumps(summary, indent=2))
    return summary


def national_summary(out_dir: Path) -> dict[str, Any]:
    import duckdb

    with duckdb.connect() as conn:
        rows = {
            table: conn.sql(f"SELECT count(*) FROM read_parquet('{out_dir / table}/*.parquet')").fetchall()[
                0
            ][0]
            for table in TABLES
        }
        practices, registered = conn.sql(
            f"SELECT count(*), sum(patients_registered) FROM read_parquet('{out_dir}/deliveries/*.parquet')"
        ).fetchall()[0]
    size = sum(p.stat().st_size for p in out_dir.rglob("*.parquet"))
    return {
        "rows": rows,
        "practices": practices,
        "patients_registered": int(registered or 0),
        "parquet_bytes": size,
    }


class _FolderPeak:
    """The largest total size of the files in a folder (DuckDB's spill files), sampled every 0.5 s."""

    def __init__(self, folder: Path, interval: float = 0.5) -> None:
        self.folder, self.interval, self.peak = folder, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _size(self) -> int:
        total = 0
        for path in self.folder.rglob("*"):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        return total

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, self._size())

    def __enter__(self) -> _FolderPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def open_national_database(
    database: Path, parquet_dir: Path, *, memory_limit: str, temp_dir: Path, threads: int | None = None
):
    """A DuckDB database whose raw tables are views over the Parquet files."""
    import duckdb

    temp_dir.mkdir(parents=True, exist_ok=True)
    conn = duckdb.connect(str(database))
    conn.execute(f"SET memory_limit = '{memory_limit}'")
    conn.execute(f"SET temp_directory = '{temp_dir}'")
    if threads:
        conn.execute(f"SET threads = {int(threads)}")
    for table in TABLES:
        conn.execute(
            f"CREATE OR REPLACE VIEW {table} AS SELECT * FROM read_parquet('{parquet_dir / table}/*.parquet')"
        )
    conn.execute(
        "CREATE OR REPLACE TABLE current_deliveries AS SELECT practice_id, quarter, extracted_on, "
        "'loaded' AS status, CAST(NULL AS TIMESTAMP) AS raw_dropped_at "
        f"FROM read_parquet('{parquet_dir}/deliveries/*.parquet')"
    )
    return conn


def screen_national(
    database: Path,
    parquet_dir: Path,
    *,
    memory_limit: str = "8GB",
    temp_dir: Path,
    backfill: bool = False,
    threads: int | None = None,
) -> dict[str, Any]:
    """omu's screen() over every practice's delivery, out-of-core. Without backfill the plan is the
    steady state of a quarter (each practice's delivered quarter); with it, the first-delivery plan
    (that quarter and the backfill quarters before it)."""
    from omu.screening.profile import load_profile
    from omu.screening.screen import screen
    from omu.sql import fetch_one

    profile = load_profile()
    if not backfill:
        profile = replace(profile, backfill_quarters=0)
    if database.exists():
        database.unlink()
    began = time.perf_counter()
    conn = open_national_database(
        database, parquet_dir, memory_limit=memory_limit, temp_dir=temp_dir, threads=threads
    )
    spill = _FolderPeak(temp_dir)
    try:
        with spill:
            result = screen(conn, profile)
        seconds = time.perf_counter() - began
        (history_rows,) = fetch_one(conn, "SELECT count(*) FROM score_history") or (0,)
    finally:
        conn.close()
    return {
        "seconds": seconds,
        "quarters": result.quarters,
        "rows_screened": result.rows,
        "over_threshold": result.over_threshold,
        "score_history_rows": history_rows,
        "memory_limit": memory_limit,
        "backfill_quarters": profile.backfill_quarters,
        "peak_spill_bytes": spill.peak,
        "database_bytes": database.stat().st_size,
        "finished_at": dt.datetime.now().isoformat(timespec="seconds"),
    }
