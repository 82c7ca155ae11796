"""Dagster's real run queue on an omu home: the daemon, the landing sensor and dagster.yaml's limits.

`python -m benchmarks.run_queue [--work DIR]` generates a few practices with two quarters each,
starts the landing sensor and `dagster-daemon run` on a fresh omu home (DAGSTER_HOME = its
dagster/ folder, holding omu's dagster.yaml), waits until every requested run has finished, and
reports: the runs' outcomes, the most runs that overlapped in time (dagster.yaml allows 2), whether
two runs of one practice ever overlapped (the plan runs a quarter's batches after the quarter
before; a run's practices are in its `omu/deliveries` tag), and whether the
store equals a serial run of the same deliveries. Each run is launched by Dagster's default run
launcher in a process of its own, so this is the multi-process path with the real queue.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from omu.pipelines.automation import run_entries
from omu.pipelines.serve import stop_groups

FINISHED = {"SUCCESS", "FAILURE", "CANCELED"}


def _most_overlapping(spans: list[tuple[float, float]]) -> int:
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    most = running = 0
    for _, step in events:
        running += step
        most = max(most, running)
    return most


def run(
    work: Path, *, practices: int = 3, quarters: str = "2026Q2:2026Q3", timeout: float = 1200
) -> dict[str, Any]:
    import dagster as dg

    from benchmarks.data import delivery_dirs
    from omu.home import OmuHome
    from omu.pipelines.parallel_workers import run_plain, snapshot
    from omu.quarters import quarter_range
    from omu.synthetic import generate

    if work.exists():
        shutil.rmtree(work)
    landing = work / "landing"
    generate(landing, practices=practices, quarters=quarter_range(quarters), seed=41, patients=(150, 300))
    expected = len(delivery_dirs(landing))
    home = OmuHome(work / "home").prepare()
    env = {
        **os.environ,
        "OMU_HOME": str(home.root),
        "OMU_LANDING": str(landing),
        "DAGSTER_HOME": str(home.dagster_home),
        "GX_ANALYTICS_ENABLED": "False",
    }
    bin_dir = Path(sys.executable).parent
    subprocess.run(
        [str(bin_dir / "dagster"), "sensor", "start", "landing_sensor", "-m", "omu.pipelines.definitions"],
        env=env,
        cwd=home.root,
        check=True,
        capture_output=True,
        timeout=300,
    )
    log = (work / "daemon.log").open("w")
    began = time.time()
    daemon = subprocess.Popen(
        [str(bin_dir / "dagster-daemon"), "run", "-m", "omu.pipelines.definitions"],
        env=env,
        cwd=home.root,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    try:
        while True:
            records = instance.get_run_records()
            statuses = [r.dagster_run.status.value for r in records]
            handled = {entry[:2] for record in records for entry in run_entries(record)}
            if len(handled) >= expected and all(s in FINISHED for s in statuses):
                break
            if time.time() - began > timeout:
                raise TimeoutError(f"runs not finished after {timeout:.0f} s: {statuses}")
            if daemon.poll() is not None:
                raise RuntimeError(
                    f"dagster-daemon stopped (exit {daemon.returncode}); see {work / 'daemon.log'}"
                )
            time.sleep(2)
    finally:
        stop_groups({"dagster-daemon": daemon}, grace_seconds=60)
        log.close()
    seconds = time.time() - began
    runs: list[dict[str, Any]] = []
    for record in records:
        tags = record.dagster_run.tags
        runs.append(
            {
                "run_id": record.dagster_run.run_id,
                "status": record.dagster_run.status.value,
                "practices": sorted({entry[0] for entry in run_entries(record)}),
                "quarter": tags.get("omu/quarter"),
                "partition": tags.get("dagster/partition"),
                "start": record.start_time,
                "end": record.end_time,
            }
        )
    # (start, end, practices) of every run that ran
    timed = [
        (record.start_time, record.end_time, {entry[0] for entry in run_entries(record)})
        for record in records
        if record.start_time and record.end_time
    ]
    spans = [(start, end) for start, end, _ in timed]
    same_practice_overlap = any(
        bool(a[2] & b[2]) and a[0] < b[1] and b[0] < a[1] for i, a in enumerate(timed) for b in timed[i + 1 :]
    )
    serial_home = OmuHome(work / "serial").prepare()
    run_plain(serial_home.root, delivery_dirs(landing))
    serial, queued = snapshot(serial_home.database), snapshot(home.database)
    return {
        "deliveries": expected,
        "runs": len(runs),
        "succeeded": sum(r["status"] == "SUCCESS" for r in runs),
        "seconds_from_daemon_start": round(seconds, 1),
        "most_runs_at_once": _most_overlapping(spans),
        "same_practice_overlapped": same_practice_overlap,
        "store_equals_serial_run": all(queued.get(t) == rows for t, rows in serial.items()),
        "runs_detail": sorted(runs, key=lambda r: r["start"] or 0),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks.run_queue",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "omu-bench" / "run-queue")
    p.add_argument("--practices", type=int, default=3)
    p.add_argument("--result", type=Path, help="also write the summary to this JSON file")
    args = p.parse_args(argv)
    os.chdir(Path(__file__).resolve().parent.parent)  # the checkout
    summary = run(args.work, practices=args.practices)
    text = json.dumps(summary, indent=2)
    if args.result:
        args.result.write_text(text + "\n")
    print(text)
    return summary


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
