"""What is logged and what leaves the store: the access log (omu/audit.py, `omu audit`) and no
pseudonym in Dagster's storage or any log, after a real `omu run` through Dagster on a persistent
instance under the omu home."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest
from conftest import REPO

from omu import audit
from omu.assets.errors import scrub, values_withheld
from omu.quarters import quarter_range
from omu.synthetic import generate

OMU = [sys.executable, "-c", "from omu.pipelines.cli import main; main()"]


def omu(*args: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*OMU, *args, "--home", str(home)], capture_output=True, text=True, cwd=REPO, timeout=600
    )


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> dict:
    """Two small practices, two quarters, through `omu run` (real Dagster runs, persistent instance)."""
    root = tmp_path_factory.mktemp("audit")
    landing = root / "landing"
    generate(landing, practices=2, quarters=quarter_range("2026Q2:2026Q3"), seed=3, patients=(80, 120))
    home = root / "home"
    result = omu("run", "--landing", str(landing), home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    return {"home": home, "landing": landing, "run": result}


def entries(home: Path) -> list[dict]:
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        cursor = conn.execute("SELECT * FROM access_log ORDER BY entry_no")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def pseudonyms(home: Path) -> set[str]:
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        return {p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM patients").fetchall()}


def copy_home(ran: dict, tmp_path: Path) -> Path:
    home = tmp_path / "home"
    shutil.copytree(ran["home"], home, ignore=shutil.ignore_patterns("*.lock"))
    return home


# --- what leaves the store: no pseudonym in Dagster's storage or any log -----------------------


def readable_text(path: Path) -> str:
    """All text in a file; a SQLite database (Dagster's run, event log and schedule storage) is
    dumped as SQL, so text spread over its pages is read whole."""
    data = path.read_bytes()
    if data.startswith(b"SQLite format 3"):
        with sqlite3.connect(path) as conn:
            return "\n".join(conn.iterdump())
    return data.decode("utf-8", errors="replace")


def pseudonyms_found(home: Path, ids: set[str], extra_texts: tuple[str, ...] = ()) -> dict[str, set[str]]:
    """Which pseudonyms each file under <home>/dagster, each log under the home and each given
    text (e.g. the terminal output) holds."""
    pattern = re.compile("|".join(re.escape(p) for p in sorted(ids, key=len, reverse=True)))
    files = [p for p in (home / "dagster").rglob("*") if p.is_file()]
    files += [
        p
        for p in home.rglob("*")
        if p.is_file() and p.suffix in {".log", ".jsonl", ".out", ".err"} and p not in files
    ]
    found = {str(path): set(pattern.findall(readable_text(path))) for path in files}
    found |= {f"text {number}": set(pattern.findall(text)) for number, text in enumerate(extra_texts)}
    return {where: hits for where, hits in found.items() if hits}


def test_no_pseudonym_in_dagsters_storage_or_any_log_after_a_run(ran):
    home, run = ran["home"], ran["run"]
    ids = pseudonyms(home)
    assert len(ids) > 100
    event_logs = list((home / "dagster" / "history" / "runs").glob("*.db"))
    assert len(event_logs) >= 11  # every Dagster run of the chain left its event log here
    assert "rows_loaded" in "".join(readable_text(p) for p in event_logs)  # the metadata is read, not skipped
    assert pseudonyms_found(home, ids, (run.stdout, run.stderr)) == {}


def test_the_scan_finds_a_pseudonym_planted_in_dagsters_storage(ran, tmp_path, monkeypatch):
    home = copy_home(ran, tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    planted = sorted(pseudonyms(home))[7]
    instance = dg.DagsterInstance.from_config(str(home / "dagster"))
    # far beyond a SQLite page, so the value lies in overflow pages
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            "patients", metadata={"preview": dg.MetadataValue.md("x" * 9000 + f"| {planted} | 1950 |")}
        )
    )
    instance.dispose()
    (home / "dagster" / "storage" / "stray.log").write_text(f"loaded {sorted(pseudonyms(home))[3]}\n")
    found = pseudonyms_found(home, pseudonyms(home))
    assert {hit for hits in found.values() for hit in hits} == {planted, sorted(pseudonyms(home))[3]}


def test_ingest_metadata_is_an_aggregate_profile_not_rows(ran, monkeypatch):
    """The patients asset's metadata: counts, nulls, distinct values and date ranges; no preview."""
    monkeypatch.setenv("DAGSTER_HOME", str(ran["home"] / "dagster"))
    instance = dg.DagsterInstance.from_config(str(ran["home"] / "dagster"))
    event = instance.get_latest_materialization_event(dg.AssetKey("patients"))
    metadata = event.asset_materialization.metadata
    instance.dispose()
    assert "preview" not in metadata
    assert metadata["rows_loaded"].value > 0 and metadata["distinct_patients"].value > 0
    profile = metadata["profile"].value
    assert "| column | nulls | distinct | range |" in profile and "registered_from" in profile
    assert "patient_id" not in profile and "birth_year | 0 |" in profile


def test_an_unexpected_error_reaches_dagster_without_the_value():
    value = "TSGZGp_mVNkHPkrgue54"
    assert value not in scrub(f"Conversion Error: Could not convert string '{value}' to INT32")
    assert value not in scrub(f"Constraint Error: Duplicate key patient_id: {value} violates primary key")
    assert "1950-03-12" not in scrub("birth 1950-03-12 is in the future")

    @dg.asset
    @values_withheld
    def failing() -> None:
        raise ValueError(f"row of patient {value} has birth date 12-03-1950")

    result = dg.materialize([failing], raise_on_error=False)
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error
    assert "ValueError" in error.message and value not in error.message and "1950" not in error.message
    assert error.cause is None and value not in str(error)  # nor in the traceback or a chained error


# --- the access log ------------------------------------------------------------------------------


def test_the_run_logs_each_delivery_list_model_and_dashboard(ran):
    logged = entries(ran["home"])
    actions = [(e["action"], e["practice_id"], e["quarter"]) for e in logged]
    deliveries = [(p, q) for q in ("2026Q2", "2026Q3") for p in ("P0001", "P0002")]
    assert sorted(a for a in actions if a[0] == "run" and a[1]) == sorted(
        ("run", p, q) for p, q in deliveries
    )
    assert ("run", None, None) in actions  # the risk model step
    assert sorted(a for a in actions if a[0] == "list_written") == sorted(
        ("list_written", p, q) for p, q in deliveries
    )
    assert sorted(a for a in actions if a[0] == "dashboard_written") == [
        ("dashboard_written", None, q) for q in ("2026Q2", "2026Q2", "2026Q3", "2026Q3")
    ]
    with duckdb.connect(str(ran["home"] / "omu.duckdb"), read_only=True) as conn:
        listed = dict(
            ((p, q), n)
            for p, q, n in conn.execute(
                "SELECT practice_id, quarter, count(*) FROM outreach_lists WHERE listed GROUP BY ALL"
            ).fetchall()
        )
        screened_q3 = conn.execute(
            "SELECT count(DISTINCT (practice_id, patient_id)) FROM score_history WHERE quarter = '2026Q3'"
        ).fetchall()[0][0]
    for entry in logged:
        assert entry["os_user"] and entry["host"] and entry["dagster_run_id"] and entry["patient_id"] is None
        if entry["action"] == "list_written":
            assert entry["patients"] == listed.get((entry["practice_id"], entry["quarter"]), 0)
        if entry["action"] == "dashboard_written" and entry["quarter"] == "2026Q3":
            assert entry["patients"] == screened_q3
        if entry["action"] == "run" and entry["practice_id"]:
            manifest = json.loads(
                (ran["landing"] / entry["practice_id"] / entry["quarter"] / "manifest.json").read_text()
            )
            assert entry["patients"] == manifest["files"]["patients.csv"]["rows"]
    copy = [json.loads(line) for line in audit.log_file(ran["home"]).read_text().splitlines()]
    assert [c["entry_sha256"] for c in copy] == [e["entry_sha256"] for e in logged]


def test_explain_outcomes_and_dashboard_are_logged_and_omu_audit_shows_them(ran, tmp_path):
    home = copy_home(ran, tmp_path)
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        practice, quarter, patient = conn.execute(
            "SELECT practice_id, quarter, patient_id FROM outreach_lists ORDER BY ALL LIMIT 1"
        ).fetchall()[0]
    before = len(entries(home))
    explained = omu("explain", patient, "--practice", practice, "--quarter", quarter, home=home)
    assert explained.returncode == 0, explained.stderr
    outcomes = tmp_path / "outcomes.csv"
    pl.DataFrame(
        {
            "patient_id": [patient],
            "quarter": [quarter],
            "outcome": ["bereikt"],
            "referral_target": [None],
            "date": ["10-01-2026"],
            "note": [None],
            "practice_id": [practice],
        },
        schema={
            k: pl.String
            for k in ("patient_id", "quarter", "outcome", "referral_target", "date", "note", "practice_id")
        },
    ).write_csv(outcomes, separator=";")
    imported = omu("outcomes", "import", str(outcomes), home=home)
    assert imported.returncode == 0, imported.stderr
    dashboard = omu("dashboard", "--quarter", "2026Q3", home=home)
    assert dashboard.returncode == 0, dashboard.stderr
    new = entries(home)[before:]
    assert [(e["action"], e["practice_id"], e["quarter"], e["patients"], e["patient_id"]) for e in new] == [
        ("explain", practice, quarter, 1, patient),
        ("outcomes_imported", practice, quarter, 1, None),
        ("dashboard_written", None, "2026Q3", new[2]["patients"], None),
    ]
    assert new[2]["patients"] > 100 and new[1]["detail"] == "outcomes.csv"

    shown = omu("audit", home=home)
    assert shown.returncode == 0, shown.stderr
    assert (
        "the log is intact" in shown.stdout
        and f"{len(entries(home))} of {len(entries(home))}" in shown.stdout
    )
    for action in ("run", "list_written", "dashboard_written", "explain", "outcomes_imported"):
        assert f"│ {action} " in shown.stdout
    other = "P0002" if practice == "P0001" else "P0001"
    filtered = omu("audit", "--practice", other, home=home)
    assert (
        filtered.returncode == 0 and "│ explain " not in filtered.stdout and f"│ {other} " in filtered.stdout
    )
    assert f"4 of {len(entries(home))} entries shown" in filtered.stdout  # 2 runs, 2 lists
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()
    assert f"0 of {len(entries(home))} entries shown" in omu("audit", "--since", tomorrow, home=home).stdout
    assert omu("audit", "--since", "yesterday", home=home).returncode == 2


def test_omu_audit_finds_an_entry_changed_or_removed_afterwards(ran, tmp_path):
    for number, (tamper, says) in enumerate(
        (
            ("UPDATE access_log SET patients = 0 WHERE entry_no = 2", "entry 2 was changed"),
            ("DELETE FROM access_log WHERE entry_no = 3", "entry 3 is missing"),
            ("DELETE FROM access_log", "of the copy are not in the table"),
        )
    ):
        home = copy_home(ran, tmp_path / str(number))
        with duckdb.connect(str(home / "omu.duckdb")) as conn:
            conn.execute(tamper)
        shown = omu("audit", home=home)
        assert shown.returncode == 1
        assert "not intact" in shown.stderr and says in " ".join(shown.stderr.split()), shown.stderr
    assert omu("audit", home=tmp_path / "nowhere").returncode == 0  # nothing logged is no failure


def test_omus_code_never_changes_or_removes_access_log_entries():
    writes = re.compile(
        r"\b(UPDATE|DELETE\s+FROM|DROP\s+TABLE(\s+IF\s+EXISTS)?|TRUNCATE|ALTER\s+TABLE|"
        r"CREATE\s+OR\s+REPLACE\s+TABLE)\s+access_log\b",
        re.IGNORECASE,
    )
    sources = [
        p
        for folder in ("omu", "assets", "pipelines", "dashboards", "models", "sql", "benchmarks")
        for p in (REPO / folder).rglob("*")
        if p.suffix in {".py", ".sql"}
    ]
    assert len(sources) > 40
    assert [str(p) for p in sources if writes.search(p.read_text(encoding="utf-8"))] == []
    assert writes.search("DELETE FROM access_log WHERE entry_no = 3")  # the pattern itself can find one


@pytest.mark.parametrize("breakage", ["log file unwritable", "table broken"])
def test_an_action_whose_entry_cannot_be_written_does_not_run(ran, tmp_path, breakage):
    home = copy_home(ran, tmp_path)
    if breakage == "log file unwritable":  # (a folder in its place: a read-only file does not stop root)
        audit.log_file(home).unlink()
        audit.log_file(home).mkdir()
    else:
        with duckdb.connect(str(home / "omu.duckdb")) as conn:
            conn.execute("ALTER TABLE access_log RENAME TO access_log_old")
            conn.execute("CREATE TABLE access_log (entry_no BIGINT)")
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        practice, quarter, patient = conn.execute(
            "SELECT practice_id, quarter, patient_id FROM outreach_lists ORDER BY ALL LIMIT 1"
        ).fetchall()[0]
        loaded = conn.execute("SELECT count(*) FROM deliveries").fetchall()[0][0]

    explained = omu("explain", patient, "--practice", practice, "--quarter", quarter, home=home)
    assert explained.returncode == 1 and "access log cannot be written" in explained.stderr
    assert "score" not in explained.stdout and patient not in explained.stdout + explained.stderr
    if breakage == "table broken":  # one action shows it; the log file case goes through every action
        with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
            assert conn.execute("SELECT count(*) FROM access_log").fetchall()[0][0] == 0
        return

    shutil.rmtree(home / "out" / "2026Q3" / "region")
    dashboard = omu("dashboard", "--quarter", "2026Q3", home=home)
    assert dashboard.returncode == 1 and "access log cannot be written" in dashboard.stderr
    assert not (home / "out" / "2026Q3" / "region" / "dashboard.html").exists()

    outcomes = tmp_path / "outcomes.csv"
    outcomes.write_text(
        f"patient_id;quarter;outcome;date;practice_id\n{patient};{quarter};bereikt;10-01-2026;{practice}\n"
    )
    imported = omu("outcomes", "import", str(outcomes), home=home)
    assert imported.returncode == 1 and "access log cannot be written" in imported.stderr

    ui = omu("ui", "--port", "1", home=home)
    assert ui.returncode == 1 and "access log cannot be written" in ui.stderr

    for listed in (home / "out").glob("*/practices/*/outreach.xlsx"):
        listed.unlink()
    rerun = omu("run", "--landing", str(ran["landing"]), "--quarter", "2026Q3", home=home)
    assert rerun.returncode == 1 and "access log cannot be written" in rerun.stderr
    assert not list((home / "out").glob("*/practices/*/outreach.xlsx"))
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM outreach_outcomes").fetchall()[0][0] == 0
        assert conn.execute("SELECT count(*) FROM deliveries").fetchall()[0][0] == loaded
    assert len(entries(home)) == len(entries(ran["home"]))  # nothing half-written
