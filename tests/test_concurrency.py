"""Partitions in parallel processes against one store, and the Dagster run queue settings.

The design (omu/store.py, dagster.yaml): every store connection is taken under an exclusive file
lock, and the heavy work of a delivery (read, type, quarantine, Great Expectations) happens
before, outside the lock, on staged files. Several processes may therefore work on different
practices at once; they queue only for the short merge or query. These tests run real processes
(omu's functions, and Dagster's screening_job) side by side and check that

- no run failed,
- the store holds exactly what a serial run of the same deliveries gives,
- the lock was held by one process at a time, while the processes' work overlapped.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml
from conftest import REPO

from omu.home import OmuHome
from omu.pipelines.parallel_workers import run_plain, snapshot
from omu.pipelines.runner import select_deliveries
from omu.quarters import quarter_range
from omu.synthetic import generate

PRACTICES = 3
QUARTERS = "2026Q2:2026Q3"


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("parallel") / "landing"
    generate(folder, practices=PRACTICES, quarters=quarter_range(QUARTERS), seed=31, patients=(150, 300))
    return folder


def delivery_dirs(landing: Path) -> list[Path]:
    """Every delivery in the landing folder, oldest quarter first, then practice (omu run's order)."""
    return [landing / practice / quarter for practice, quarter in select_deliveries(landing, None)]


@pytest.fixture(scope="module")
def serial(tmp_path_factory, landing) -> dict[str, list[tuple]]:
    """The reference: every delivery in one process, oldest quarter first, then practice."""
    home = OmuHome(tmp_path_factory.mktemp("serial") / "home").prepare()
    results = run_plain(home.root, delivery_dirs(landing))
    assert [r["status"] for r in results] == ["loaded"] * PRACTICES * 2
    return snapshot(home.database)


def by_practice(landing: Path) -> dict[str, list[Path]]:
    chains: dict[str, list[Path]] = {}
    for delivery in delivery_dirs(landing):
        chains.setdefault(delivery.parent.name, []).append(delivery)
    return {practice: sorted(chain, key=lambda d: d.name) for practice, chain in chains.items()}


def run_in_parallel(mode: str, home: OmuHome, landing: Path, tmp_path: Path) -> list[dict]:
    """One process per practice, all started at once; returns what each wrote."""
    processes = []
    for practice, chain in by_practice(landing).items():
        result = tmp_path / f"{practice}.json"
        command = [
            sys.executable,
            "-m",
            "omu.pipelines.parallel_workers",
            mode,
            "--home",
            str(home.root),
            "--landing",
            str(landing),
            "--result",
            str(result),
            *map(str, chain),
        ]
        processes.append(
            (
                result,
                subprocess.Popen(
                    command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                ),
            )
        )
    reports = []
    for result, process in processes:
        _, stderr = process.communicate(timeout=900)
        assert process.returncode == 0, stderr[-3000:]
        reports.append(json.loads(result.read_text()))
    return reports


def assert_lock_held_by_one_process_at_a_time(reports: list[dict]) -> None:
    held = sorted((w["got"], w["released"], r["pid"]) for r in reports for w in r["lock_windows"])
    assert len({pid for _, _, pid in held}) == len(reports)
    for (_, released, pid), (got, _, next_pid) in zip(held, held[1:], strict=False):
        assert got >= released - 1e-3 or pid == next_pid, "two processes held the store lock at once"


def assert_work_overlapped(reports: list[dict]) -> None:
    """The processes really ran side by side (not one after the other)."""
    spans = sorted((r["began"], r["ended"]) for r in reports)
    assert any(
        later_began < earlier_ended
        for (_, earlier_ended), (later_began, _) in zip(spans, spans[1:], strict=False)
    )


def test_parallel_processes_ingest_and_screen_exactly_what_a_serial_run_does(tmp_path, landing, serial):
    home = OmuHome(tmp_path / "home").prepare()
    reports = run_in_parallel("plain", home, landing, tmp_path)
    statuses = [r["status"] for report in reports for r in report["results"]]
    assert statuses == ["loaded"] * PRACTICES * 2
    assert_lock_held_by_one_process_at_a_time(reports)
    assert_work_overlapped(reports)
    parallel = snapshot(home.database)
    assert parallel.keys() == serial.keys()
    for table in serial:
        assert parallel[table] == serial[table], f"{table} differs from the serial run"
    assert len(parallel["score_history"]) > 0


def test_parallel_dagster_runs_of_different_partitions_match_the_serial_run(tmp_path, landing, serial):
    """screening_job (ingest, score_history, first_time_crossers) per partition, one process per
    practice, all on the same persistent Dagster instance and store."""
    home = OmuHome(tmp_path / "home").prepare()
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    chains = by_practice(landing)
    instance.add_dynamic_partitions("practice", sorted(chains))
    instance.add_dynamic_partitions("quarter", [str(q) for q in quarter_range(QUARTERS)])
    reports = run_in_parallel("dagster", home, landing, tmp_path)
    assert [r["status"] for report in reports for r in report["results"]] == ["loaded"] * PRACTICES * 2
    runs = instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    assert len(runs) == PRACTICES * 2
    assert not instance.get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]))
    assert_lock_held_by_one_process_at_a_time(reports)
    assert_work_overlapped(reports)
    parallel = snapshot(home.database)
    for table in serial:
        assert parallel[table] == serial[table], f"{table} differs from the serial run"
    for practice in chains:  # the first-time files each run wrote
        assert (home.practice_out("2026Q3", practice) / "screening.csv").is_file()


def test_the_run_queue_caps_parallel_runs_and_one_run_per_practice(tmp_path):
    """dagster.yaml (copied into the omu home): the queue that `dagster dev` / the daemon uses."""
    home = OmuHome(tmp_path / "home").prepare()
    config = yaml.safe_load((home.dagster_home / "dagster.yaml").read_text())
    queue = config["run_queue"]
    assert queue["max_concurrent_runs"] == 2  # the machine has 2 cores
    assert {"key": "omu/practice", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in queue[
        "tag_concurrency_limits"
    ]
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    coordinator = instance.run_coordinator
    assert type(coordinator).__name__ == "QueuedRunCoordinator"
    assert coordinator.get_run_queue_config().max_concurrent_runs == 2
