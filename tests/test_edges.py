"""Robust edges: ids checked before they reach a path, file reads that never glob, one `omu run` per
home at a time, the delivery report only after its load committed, outputs replaced in one step,
and a CLI that ends by itself without leaving temporary folders behind."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import REPO

from omu import store
from omu.assets.ingest import ingest_delivery_asset
from omu.contract import PracticeIdError, checked_practice_id
from omu.file_writing import atomic_path, write_text_atomically
from omu.home import OmuHome, run_lock
from omu.ingest.load import ingest_delivery
from omu.pipelines.partitions import partition_key
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.pipelines.sensors import landed_deliveries, landing_problems
from omu.sql import literal_path

SAMPLE = REPO / "sample_data" / "landing"
OMU = [sys.executable, "-c", "from omu.pipelines.cli import main; main()"]
BAD_IDS = ["../x", "P0001/../../etc", "", "P 0001", ".P0001", "P0001\n", "P0001*", "P[1]"]


def omu(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*OMU, *args], capture_output=True, text=True, cwd=REPO, timeout=600, env=env)


# --- practice ids ---------------------------------------------------------------------------------


@pytest.mark.parametrize("bad", BAD_IDS)
def test_a_practice_id_off_the_contract_pattern_is_refused_naming_where_it_came_from(bad):
    with pytest.raises(PracticeIdError, match="partition key 'practice'"):
        checked_practice_id(bad, "partition key 'practice'")


@pytest.mark.parametrize("good", ["P0001", "p-12_a", "12345678"])
def test_a_practice_id_on_the_pattern_passes_unchanged(good):
    assert checked_practice_id(good) == good


@pytest.mark.parametrize("bad", BAD_IDS)
def test_no_output_path_is_built_from_a_bad_practice_id(tmp_path, bad):
    home = OmuHome.resolve(tmp_path / "home")
    with pytest.raises(PracticeIdError):
        home.delivery_out("2026Q3", bad)
    with pytest.raises(PracticeIdError):
        home.practice_out("2026Q3", bad)


def test_the_landing_sensor_passes_over_a_practice_folder_that_is_no_practice_id(tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(SAMPLE / "P0001" / "2026Q3", landing / "P0001" / "2026Q3")
    shutil.copytree(SAMPLE / "P0001" / "2026Q3", landing / "P 0001" / "2026Q3")
    assert set(landed_deliveries(landing)) == {"P0001|2026Q3"}
    [problem] = landing_problems(landing)
    assert "'P 0001' is not a practice id" in problem and str(landing) in problem


@pytest.mark.parametrize(
    ("practice", "quarter", "problem"),
    [
        ("..", "2026Q3", "is not a practice id"),
        ("P0001 ", "2026Q3", "is not a practice id"),
        ("P0001;rm", "2026Q3", "is not a practice id"),
        ("P0003", "../2026Q3", "is not a quarter"),
        ("P0003", "2026q3", "is not a quarter"),
    ],
)
def test_a_partition_key_added_by_hand_fails_the_run_before_any_path_is_built(
    tmp_path, practice, quarter, problem
):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("practice", [practice])
    instance.add_dynamic_partitions("quarter", [quarter])
    result = dg.materialize(
        [ingest_delivery_asset],
        partition_key=partition_key(practice, quarter),
        instance=instance,
        resources={
            "store": DuckDBStore(database=str(home.database)),
            "omu": OmuSettings(home=str(home.root), landing=str(SAMPLE)),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert problem in failure.step_failure_data.user_failure_data.description
    assert not home.out.exists() or not any(home.out.iterdir())


@pytest.mark.parametrize(
    "command",
    [
        ["explain", "abcdefgh", "--quarter", "2026Q3"],
        ["audit"],
        ["outcomes", "import", "missing.csv"],
    ],
)
def test_a_cli_practice_option_off_the_pattern_is_a_usage_error(tmp_path, command):
    result = omu(*command, "--practice", "../x", "--home", str(tmp_path / "home"))
    assert result.returncode == 2
    assert "is not a practice id" in result.stderr
    assert not (tmp_path / "home").exists()


# --- reads that never glob ------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a[1].csv", "a*.csv", "a?.csv"])
def test_duckdb_reads_exactly_the_named_file_even_with_glob_characters(tmp_path, name):
    (tmp_path / name).write_text("x\nnamed\n")
    (tmp_path / "a1.csv").write_text("x\nother\n")
    (tmp_path / "ab.csv").write_text("x\nanother\n")
    path = tmp_path / name
    with duckdb.connect() as conn:
        read = conn.execute("SELECT x FROM read_csv($1)", [literal_path(path)]).fetchall()
        globbed = conn.execute("SELECT x FROM read_csv($1)", [str(path)]).fetchall()
    assert read == [("named",)]
    assert globbed != [("named",)]  # what DuckDB does with the bare path: the reason for literal_path


def test_a_delivery_loads_into_a_home_whose_path_holds_glob_characters(tmp_path):
    home = OmuHome.resolve(tmp_path / "home[1]").prepare()
    outcome = ingest_delivery(home, SAMPLE / "P0003" / "2026Q3")
    assert outcome.status == "loaded", outcome.reason
    with store.connect(home.database) as conn:
        assert conn.execute("SELECT count(*) FROM patients").fetchone()[0] > 0
    assert not list(home.staging.rglob("*.parquet"))  # the attempt's own stage folder is gone


# --- the delivery report after the commit ---------------------------------------------------------


def test_no_delivery_report_is_written_when_the_load_does_not_commit(tmp_path):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    with store.connect(home.database):
        pass  # the store with its schema, then opened read-only: the merge cannot commit

    def read_only():
        return duckdb.connect(str(home.database), read_only=True)

    with pytest.raises(duckdb.Error):
        ingest_delivery(home, SAMPLE / "P0003" / "2026Q3", connect=read_only)
    folder = home.delivery_out("2026Q3", "P0003")
    assert not (folder / "report.md").exists()
    assert not list(home.staging.rglob("*.parquet"))
    outcome = ingest_delivery(home, SAMPLE / "P0003" / "2026Q3")
    assert outcome.status == "loaded"
    assert "P0003" in (folder / "report.md").read_text(encoding="utf-8")


# --- one omu run per home; the CLI ends by itself and cleans up --------------------------------------

HOLD = """
import sys, time
from omu.home import OmuHome, run_lock
with run_lock(OmuHome.resolve(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _holder(home: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(home), str(seconds)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_a_second_omu_run_on_a_held_home_is_refused_naming_the_holder(tmp_path):
    home = tmp_path / "home"
    holder = _holder(home, 120)
    try:
        result = omu("run", "--landing", str(SAMPLE), "--home", str(home))
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    message = " ".join(result.stderr.split())  # the terminal wraps long lines
    assert f"is in use by omu run (pid {holder.pid}" in message
    assert "--wait" in message
    assert not (home / "omu.duckdb").exists()  # refused before anything was touched


def test_with_wait_a_run_waits_for_the_holder_instead(tmp_path):
    home = OmuHome.resolve(tmp_path / "home")
    holder = _holder(home.root, 2)
    heard: list[str] = []
    with run_lock(home, wait=True, on_wait=heard.append):
        assert f"pid {os.getpid()}" in home.run_lock_file.read_text(encoding="utf-8")
    holder.wait()
    assert heard and f"pid {holder.pid}" in heard[0]  # it waited for the holder, whom it named
    assert home.run_lock_file.read_text(encoding="utf-8") == ""  # released: names nobody


def test_omu_run_ends_by_itself_with_0_and_leaves_no_temporary_folders(tmp_path):
    """Also: a second real `omu run` on the same home, started while the first works, is refused."""
    landing = tmp_path / "landing"
    for practice in ("P0002", "P0003"):  # two: their runs go side by side in worker processes
        shutil.copytree(SAMPLE / practice / "2026Q3", landing / practice / "2026Q3")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    home = OmuHome.resolve(tmp_path / "home")
    command = [*OMU, "run", "--landing", str(landing), "--home", str(home.root)]
    first = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while first.poll() is None and time.monotonic() < deadline:
            if home.run_lock_file.is_file() and home.run_lock_file.read_text(encoding="utf-8"):
                break
            time.sleep(0.2)
        second = omu(*command[len(OMU) :], env=env)
        out, err = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, err
    assert second.returncode == 1
    assert f"in use by omu run (pid {first.pid}" in " ".join(second.stderr.split())
    assert not list(scratch.glob("omu-gx-*")), list(scratch.iterdir())
    assert "leaked" not in err
    assert not list((home.staging).rglob("*.parquet"))
    with store.connect(home.database) as conn:  # the refused run recorded nothing
        assert conn.execute("SELECT status, count(*) FROM deliveries GROUP BY ALL").fetchall() == [
            ("loaded", 2)
        ]


# --- outputs replaced in one step -------------------------------------------------------------------


def test_an_output_is_replaced_whole_or_left_as_it_was(tmp_path):
    path = tmp_path / "out" / "lijst.csv"
    write_text_atomically(path, "oud\n")
    with pytest.raises(RuntimeError), atomic_path(path) as temporary:
        temporary.write_text("half")
        raise RuntimeError("the writer died halfway")
    assert path.read_text(encoding="utf-8") == "oud\n"
    with atomic_path(path) as temporary:
        assert temporary.parent == path.parent and temporary.suffix == ".csv"
        assert path.read_text(encoding="utf-8") == "oud\n"  # readers see the old file meanwhile
        temporary.write_text("nieuw\n", encoding="utf-8")
    assert path.read_text(encoding="utf-8") == "nieuw\n"
    assert [p.name for p in path.parent.iterdir()] == ["lijst.csv"]  # no temporary file left
    assert path.stat().st_mode & 0o044  # readable as any output, not mkstemp's 0600


def test_an_xlsx_written_through_the_helper_reads_back(tmp_path):
    from openpyxl import Workbook, load_workbook

    book = Workbook()
    book.active["A1"] = "Patiënt"
    path = tmp_path / "lijst.xlsx"
    with atomic_path(path) as temporary:
        book.save(temporary)
    assert load_workbook(path).active["A1"].value == "Patiënt"
