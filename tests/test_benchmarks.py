"""The benchmarks keep working: a tiny sample-scale run of every stage, and a tiny national run.

Speed is never asserted here (it depends on the machine and on what else runs on it); the
benchmark's own figures live in benchmarks/results/ and docs/scaling.md. What is asserted:
every stage runs, the results are written, the pandas baseline gives exactly the SQL's flags,
a re-delivery re-processes only its own practice, and national screening runs from Parquet.
"""

from __future__ import annotations

import json
import math

import pandas as pd
import polars as pl
import pytest

from benchmarks.data import make_redelivery, scan_limit
from benchmarks.pandas_screen import FLAGS, screen_pandas
from benchmarks.polars_screen import screen_polars
from benchmarks.run import main
from omu.ingest.delivery import check_delivery
from omu.quarters import quarter_range
from omu.screening.profile import load_profile
from omu.synthetic import generate

TINY = ["--practices", "2", "--patients", "150:300", "--workers", "2"]


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    result = main(
        [
            "--scale",
            "sample",
            *TINY,
            "--name",
            "smoke",
            "--work",
            str(root / "work"),
            "--results",
            str(root / "results"),
        ]
    )
    return root, result


def test_every_stage_of_the_sample_benchmark_runs_and_is_written(sample_run):
    root, result = sample_run
    stages = {stage["name"]: stage for stage in result["stages"]}
    expected = {
        "generate",
        "scan_limit",
        "ingest_startup",
        "ingest",
        "scan_limit_after",
        "screening",
        "screening_checks",
        "first_time",
        "model_training",
        "model_scoring",
        "outreach_lists",
        "dashboard_indicators",
        "dashboard_page",
        "pandas_load",
        "pandas_screening",
        "polars_load",
        "polars_screening",
        "screening_floor",
        "redelivery",
    }
    assert expected <= stages.keys()
    for name in expected:
        assert stages[name]["status"] == "ok", (name, stages[name]["note"])
        assert stages[name]["seconds"] >= 0 and stages[name]["peak_rss_mb"] > 0
    assert result["size"]["practices"] == 2 and result["size"]["deliveries"] == 2
    assert stages["ingest"]["details"]["loaded"] == 2
    assert stages["scan_limit"]["details"]["rows"] == result["size"]["rows"]  # every row read once
    for key in (
        "ingest_vs_scan_limit",
        "pandas_vs_sql_screening",
        "polars_vs_sql_screening",
        "screening_vs_floor",
        "redelivery_share_of_full_run",
    ):
        assert not math.isnan(result["ratios"][key]["value"])
    written = json.loads((root / "results" / "smoke.json").read_text())
    assert written["name"] == "smoke" and written["ratios"].keys() == result["ratios"].keys()
    table = (root / "results" / "smoke.md").read_text()
    assert "| comparison (same run) |" in table and "ingest_vs_scan_limit" in table


@pytest.mark.parametrize("baseline", ["pandas_check", "polars_check"])
def test_pandas_and_polars_give_the_same_flags_as_the_sql(sample_run, baseline):
    _, result = sample_run
    check = result[baseline]
    assert check["equal"], check
    assert check["sql_rows"] == check["pandas_rows"] > 0
    assert check["true_counts"]["older_than_55"] > 0  # the comparison is not vacuous


def test_a_redelivery_reprocesses_only_its_own_practice(sample_run):
    _, result = sample_run
    redelivery = result["redelivery"]
    assert redelivery["this_practice_rescreened"]
    assert redelivery["other_practices"] == 1 and redelivery["other_practices_changed"] == []


@pytest.mark.parametrize("baseline", ["pandas", "polars"])
def test_pandas_and_polars_baselines_on_hand_made_rows(baseline):
    """One patient per flag on a reference date, and the boundaries of the windows, in both baselines."""
    profile = load_profile()
    day = pd.Timestamp
    key = {"practice_id": "P1", "source_quarter": "2026Q3"}
    patients = pd.DataFrame(
        [
            {
                **key,
                "patient_id": p,
                "birth_year": y,
                "birth_month": m,
                "sex": "V",
                "wijk_code": "WK034401",
                "registered_from": day("2000-01-01"),
                "registered_until": pd.NaT,
            }
            for p, y, m in (
                ("old", 1970, 9),
                ("young", 1970, 10),
                ("alone", 1990, None),
                ("eyes", 1990, None),
                ("ears", 1990, None),
                ("beta", 1990, None),
                ("saba", 1990, None),
                ("left", 1950, None),
            )
        ]
    )
    patients.loc[patients["patient_id"] == "left", "registered_until"] = day(
        "2026-09-30"
    )  # not registered on R
    episodes = pd.DataFrame(
        [
            {
                **key,
                "patient_id": "eyes",
                "icpc": "F94.01",
                "start_date": day("2020-01-01"),
                "end_date": pd.NaT,
            },
            {
                **key,
                "patient_id": "ears",
                "icpc": "H86",
                "start_date": day("2020-01-01"),
                "end_date": day("2026-09-30"),
            },
            {**key, "patient_id": "saba", "icpc": "R96", "start_date": day("2020-01-01"), "end_date": pd.NaT},
        ]
    )
    prescriptions = pd.DataFrame(
        [
            {
                **key,
                "patient_id": "beta",
                "atc": "C07AB02",
                "prescribed_on": day("2026-04-03"),
                "quantity": 1.0,
            },
            {
                **key,
                "patient_id": "saba",
                "atc": "R03AC02",
                "prescribed_on": day("2025-09-30"),
                "quantity": None,
            },
            {
                **key,
                "patient_id": "saba",
                "atc": "R03BA02",
                "prescribed_on": day("2025-09-29"),
                "quantity": 1.0,
            },
        ]
    )
    determinations = pd.DataFrame(
        [
            {**key, "patient_id": "alone", "code": 9001, "measured_on": day("2024-01-01"), "value": "samen"},
            {
                **key,
                "patient_id": "alone",
                "code": 9001,
                "measured_on": day("2026-01-01"),
                "value": "Alleen ",
            },
        ]
    )
    plan = pd.DataFrame(
        [
            {
                "practice_id": "P1",
                "quarter": "2026Q3",
                "source_quarter": "2026Q3",
                "reference_date": day("2026-09-30"),
            }
        ]
    )
    tables = {
        "patients": patients,
        "episodes": episodes,
        "prescriptions": prescriptions,
        "determinations": determinations,
    }
    if baseline == "pandas":
        frame = screen_pandas(tables, plan, profile).set_index("patient_id")
    else:
        typed = {name: pl.from_pandas(table) for name, table in tables.items()}
        typed = {
            name: table.with_columns(pl.col(pl.Datetime).dt.date()) for name, table in typed.items()
        }  # the store's dates are dates
        frame = (
            screen_polars(
                typed, pl.from_pandas(plan).with_columns(pl.col("reference_date").dt.date()), profile
            )
            .to_pandas()
            .set_index("patient_id")
        )
    assert "left" not in frame.index
    holds = {flag: sorted(frame.index[frame[flag]]) for flag in FLAGS}
    assert holds == {
        "older_than_55": ["old"],
        "lives_alone": ["alone"],
        "visual_impairment": ["eyes"],
        "hearing_impairment": ["ears"],
        "beta_blocker": ["beta"],
        "saba_only_asthma": ["saba"],
    }  # the ICS one day before the 365-day window does not count
    assert frame.loc["young", "age"] == 55 and frame.loc["old", "age"] == 56
    assert frame["score"].max() == 1 and not frame["over_threshold"].any()


def test_scan_limit_counts_every_row_and_a_redelivery_is_a_valid_changed_delivery(tmp_path):
    landing = tmp_path / "landing"
    summary = generate(landing, practices=4, quarters=quarter_range("2026Q3"), seed=4, patients=(60, 90))
    assert scan_limit(list(summary.delivery_dirs)) == summary.rows  # all four dialects, cp1252 included
    original = summary.delivery_dirs[2]  # Microhis: Windows-1252, \r\n
    copy = make_redelivery(original, tmp_path / "again" / original.parent.name / original.name, drop_lines=2)
    check = check_delivery(copy, tmp_path / "stage")
    before = check_delivery(original, tmp_path / "stage2")
    assert check.accepted, check.refusal_reason
    assert check.files["contacts.csv"].rows_loaded == before.files["contacts.csv"].rows_loaded - 2
    assert check.manifest_sha256 != before.manifest_sha256


def test_national_screening_runs_from_parquet_within_the_memory_limit(tmp_path):
    result = main(
        [
            "--scale",
            "national",
            "--practices",
            "3",
            "--patients",
            "150:300",
            "--workers",
            "2",
            "--memory-limit",
            "1GB",
            "--name",
            "national-smoke",
            "--work",
            str(tmp_path / "work"),
            "--results",
            str(tmp_path / "results"),
        ]
    )
    national = result["national"]
    assert result["size"]["practices"] == 3
    assert national["screening"]["rows_screened"] == result["size"]["patients_registered"] > 0
    assert national["screening"]["quarters"] == ["2026Q3"]
    assert national["memory_limit_mb"] == pytest.approx(953.7, abs=0.1)  # DuckDB: 1GB = 10**9 bytes
    assert (tmp_path / "results" / "national-smoke.md").is_file()
