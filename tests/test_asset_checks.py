"""Every asset check can fail: a small generated region is materialised once (assets and their
checks, all passing; the deliveries as one batch run, as the sensors run them); then each test
corrupts a copy of the store or of the written files and runs only the check, which must report
passed=False in the Dagster result."""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from dagster._core.storage.defs_state.base import set_defs_state_storage

from omu import store
from omu.assets.checks import ASSET_CHECKS, checks_for
from omu.assets.dashboards import regional_dashboard, regional_indicators
from omu.assets.evaluation import practice_feedback, regional_evaluation
from omu.assets.ingest import ingest_delivery_asset
from omu.assets.outreach import outreach_list
from omu.assets.screening import first_time_crossers, score_history
from omu.home import OmuHome
from omu.pipelines.definitions import ASSETS
from omu.pipelines.partitions import batch_tags
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.quarters import quarter_range
from omu.synthetic import generate

PRACTICES = ["P0001", "P0002"]
QUARTER = "2026Q3"
DELIVERY_ASSETS = [ingest_delivery_asset, score_history, first_time_crossers, outreach_list]
REGION_ASSETS = [regional_indicators, regional_dashboard, regional_evaluation]
BATCH = batch_tags([(practice_id, QUARTER) for practice_id in PRACTICES])


def resources(home: OmuHome, landing: Path) -> dict:
    return {
        "store": DuckDBStore(database=str(home.database)),
        "omu": OmuSettings(home=str(home.root), landing=str(landing)),
    }


def materialize(*args, **kwargs) -> dg.ExecuteInJobResult:
    """dg.materialize with no state storage left in Dagster's context variable by an earlier run
    (a run's instance can be gone by the next one; the fixture makes several runs)."""
    with set_defs_state_storage(None):
        return dg.materialize(*args, **kwargs)


def instance() -> dg.DagsterInstance:
    ephemeral = dg.DagsterInstance.ephemeral()
    ephemeral.add_dynamic_partitions("practice", PRACTICES)
    ephemeral.add_dynamic_partitions("quarter", [QUARTER])
    return ephemeral


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> dict:
    """Two small practices, one quarter: delivery, region and feedback assets with their checks."""
    base = tmp_path_factory.mktemp("checks")
    landing = base / "landing"
    generate(
        landing, practices=2, quarters=quarter_range(f"{QUARTER}:{QUARTER}"), seed=11, patients=(80, 120)
    )
    home = OmuHome.resolve(base / "home").prepare()
    runs = []
    on = instance()
    runs.append(  # both deliveries in one batch run
        materialize(
            [*DELIVERY_ASSETS, *checks_for(DELIVERY_ASSETS)],
            tags=BATCH,
            instance=on,
            resources=resources(home, landing),
        )
    )
    runs.append(
        materialize(
            [*REGION_ASSETS, *checks_for(REGION_ASSETS)],
            partition_key=QUARTER,
            instance=on,
            resources=resources(home, landing),
        )
    )
    runs.append(
        materialize(
            [practice_feedback, *checks_for([practice_feedback])],
            tags=BATCH,
            instance=on,
            resources=resources(home, landing),
        )
    )
    return {"home": home, "landing": landing, "runs": runs}


@pytest.fixture
def copy(region, tmp_path) -> OmuHome:
    """A copy of the good home to corrupt."""
    shutil.copytree(region["home"].root, tmp_path / "home")
    return OmuHome.resolve(tmp_path / "home")


def run_checks(home: OmuHome, landing: Path, *keys: tuple[str, str], practice_id: str | None = None) -> dict:
    """Only the named checks (asset, check), on the delivery of practice_id ("batch": both
    deliveries, one run) or on the quarter: {(asset, check): evaluation}."""
    if practice_id is None:
        tags = {"dagster/partition": QUARTER}
    elif practice_id == "batch":
        tags = BATCH
    else:
        tags = {
            "dagster/partition": f"{practice_id}|{QUARTER}",
            "dagster/partition/practice": practice_id,
            "dagster/partition/quarter": QUARTER,
        }
    result = materialize(
        [*ASSETS, *ASSET_CHECKS],
        selection=dg.AssetSelection.checks(*(dg.AssetCheckKey(dg.AssetKey(a), c) for a, c in keys)),
        tags=tags,
        instance=instance(),
        resources=resources(home, landing),
    )
    assert result.success
    evaluations = {
        (e.asset_key.to_user_string(), e.check_name): e for e in result.get_asset_check_evaluations()
    }
    assert set(evaluations) == set(keys)
    return evaluations


def execute(home: OmuHome, sql: str, params: list | None = None) -> int:
    with store.connect(home.database) as conn:
        changed = conn.execute(sql, params or []).fetchall()
    return len(changed)


def text_of(evaluation) -> str:
    return f"{evaluation.description} {evaluation.metadata}"


# --- on good data ----------------------------------------------------------------------------


def test_every_check_runs_after_its_asset_and_passes_on_good_data(region):
    evaluations = [e for run in region["runs"] for e in run.get_asset_check_evaluations()]
    names = {(e.asset_key.to_user_string(), e.check_name) for e in evaluations}
    assert names == {(k.asset_key.to_user_string(), k.name) for c in ASSET_CHECKS for k in c.check_keys}
    failed = [
        (e.asset_key.to_user_string(), e.check_name, e.description) for e in evaluations if not e.passed
    ]
    assert failed == []


def test_a_check_alone_passes_on_the_untouched_store(region, copy):
    evaluations = run_checks(
        copy,
        region["landing"],
        ("patients", "rows_add_up"),
        ("score_history", "score_is_weighted_sum_of_flags"),
        practice_id="P0001",
    )
    assert all(e.passed for e in evaluations.values())


# --- ingest ----------------------------------------------------------------------------------


def test_rows_add_up_fails_when_a_stored_row_is_lost(region, copy):
    execute(copy, "DELETE FROM episodes WHERE practice_id = 'P0001' AND line = 2 RETURNING line")
    keys = [(t, "rows_add_up") for t in ("patients", "episodes", "prescriptions")]
    evaluations = run_checks(copy, region["landing"], *keys, practice_id="P0001")
    assert not evaluations["episodes", "rows_add_up"].passed
    assert "episodes.csv" in evaluations["episodes", "rows_add_up"].description
    assert (
        evaluations["patients", "rows_add_up"].passed and evaluations["prescriptions", "rows_add_up"].passed
    )


def test_a_batch_check_fails_for_the_delivery_that_broke_and_names_it(region, copy):
    execute(copy, "DELETE FROM episodes WHERE practice_id = 'P0002' AND line = 2 RETURNING line")
    execute(
        copy,
        "UPDATE patients SET sex = 'X' WHERE practice_id = 'P0002' AND line = 2 RETURNING line",
    )
    keys = [
        ("episodes", "rows_add_up"),
        ("patients", "contract_expectations"),
        ("episodes", "contract_expectations"),
    ]
    evaluations = run_checks(copy, region["landing"], *keys, practice_id="batch")
    lost = evaluations["episodes", "rows_add_up"]
    assert not lost.passed and lost.description.startswith("P0002 2026Q3: episodes.csv")
    assert "P0001" not in lost.description
    assert lost.metadata["deliveries"].value == 2 and lost.metadata["deliveries_failed"].value == 1
    broken = evaluations["patients", "contract_expectations"]
    assert not broken.passed and "P0002 2026Q3" in broken.description and "P0001" not in broken.description
    assert evaluations["episodes", "contract_expectations"].passed


def test_ingest_checks_fail_without_a_delivery_in_the_log(region, copy):
    execute(copy, "DELETE FROM deliveries WHERE practice_id = 'P0002' RETURNING practice_id")
    evaluations = run_checks(
        copy,
        region["landing"],
        ("patients", "rows_add_up"),
        ("patients", "contract_expectations"),
        practice_id="P0002",
    )
    assert not any(e.passed for e in evaluations.values())
    assert all("no loaded delivery" in e.description for e in evaluations.values())


def test_contract_expectations_fail_on_a_stored_row_that_breaks_the_contract(region, copy):
    execute(
        copy,
        "UPDATE episodes SET icpc = 'not an icpc' WHERE practice_id = 'P0001' AND line = 2 RETURNING line",
    )
    evaluations = run_checks(
        copy,
        region["landing"],
        ("episodes", "contract_expectations"),
        ("patients", "contract_expectations"),
        practice_id="P0001",
    )
    failed = evaluations["episodes", "contract_expectations"]
    assert not failed.passed and "icpc" in failed.description
    assert "not an icpc" not in text_of(failed)  # the value itself is not shown
    assert evaluations["patients", "contract_expectations"].passed


# --- screening -------------------------------------------------------------------------------


def test_screened_once_fails_when_a_patient_has_no_row(region, copy):
    execute(
        copy,
        "DELETE FROM score_history WHERE practice_id = 'P0001' AND quarter = ? AND patient_id = "
        "(SELECT min(patient_id) FROM score_history WHERE practice_id = 'P0001' AND quarter = ?) RETURNING 1",
        [QUARTER, QUARTER],
    )
    evaluations = run_checks(
        copy,
        region["landing"],
        ("score_history", "every_registered_patient_screened_once"),
        practice_id="P0001",
    )
    assert not evaluations["score_history", "every_registered_patient_screened_once"].passed


def test_screened_once_and_score_sum_fail_on_an_empty_history(region, copy):
    execute(copy, "DELETE FROM score_history WHERE practice_id = 'P0002' RETURNING 1")
    evaluations = run_checks(
        copy,
        region["landing"],
        ("score_history", "every_registered_patient_screened_once"),
        ("score_history", "score_is_weighted_sum_of_flags"),
        practice_id="P0002",
    )
    assert not any(e.passed for e in evaluations.values())


def test_score_sum_fails_when_a_stored_score_is_off(region, copy):
    execute(
        copy,
        "UPDATE score_history SET score = score + 1 WHERE practice_id = 'P0001' AND quarter = ? AND patient_id = "
        "(SELECT min(patient_id) FROM score_history WHERE practice_id = 'P0001' AND quarter = ?) RETURNING 1",
        [QUARTER, QUARTER],
    )
    evaluations = run_checks(
        copy, region["landing"], ("score_history", "score_is_weighted_sum_of_flags"), practice_id="P0001"
    )
    failed = evaluations["score_history", "score_is_weighted_sum_of_flags"]
    assert not failed.passed and "1 scores" in failed.description


def test_first_time_check_fails_when_the_file_marks_a_patient_under_the_threshold(region, copy):
    path = copy.practice_out(QUARTER, "P0001") / "screening.csv"
    frame = pl.read_csv(path, infer_schema=False)
    under = frame.with_row_index().filter(pl.col("over_threshold") == "false")["index"][0]
    frame.with_columns(
        pl.when(pl.int_range(pl.len()) == under)
        .then(pl.lit("true"))
        .otherwise(pl.col("first_time"))
        .alias("first_time")
    ).write_csv(path)
    evaluations = run_checks(
        copy,
        region["landing"],
        ("first_time_crossers", "no_first_time_crosser_was_over_before"),
        practice_id="P0001",
    )
    failed = evaluations["first_time_crossers", "no_first_time_crosser_was_over_before"]
    assert not failed.passed and "not over now" in failed.description


def test_first_time_check_fails_when_the_file_is_missing(region, copy):
    (copy.practice_out(QUARTER, "P0002") / "screening.csv").unlink()
    evaluations = run_checks(
        copy,
        region["landing"],
        ("first_time_crossers", "no_first_time_crosser_was_over_before"),
        practice_id="P0002",
    )
    assert not evaluations["first_time_crossers", "no_first_time_crosser_was_over_before"].passed


# --- outreach --------------------------------------------------------------------------------


def test_only_this_practice_fails_on_a_patient_of_another_practice(region, copy):
    with store.connect(copy.database) as conn:
        (other,) = conn.execute(
            "SELECT min(patient_id) FROM score_history WHERE practice_id = 'P0002'"
        ).fetchone()
    path = copy.practice_out(QUARTER, "P0001") / "outreach.csv"
    lines = path.read_text(encoding="utf-8-sig").splitlines()
    columns = lines[0].split(";")
    from omu.outreach.list_files import column_header

    row = ["" for _ in columns]
    row[columns.index(column_header("patient_id"))] = other
    path.write_text("\n".join([*lines, ";".join(row)]) + "\n", encoding="utf-8")
    evaluations = run_checks(
        copy, region["landing"], ("outreach_list", "only_this_practice"), practice_id="P0001"
    )
    failed = evaluations["outreach_list", "only_this_practice"]
    assert not failed.passed and failed.metadata["foreign_patients"].value == 1
    assert other not in text_of(failed)


def test_only_this_practice_fails_when_the_list_is_missing(region, copy):
    (copy.practice_out(QUARTER, "P0002") / "outreach.xlsx").unlink()
    evaluations = run_checks(
        copy, region["landing"], ("outreach_list", "only_this_practice"), practice_id="P0002"
    )
    assert not evaluations["outreach_list", "only_this_practice"].passed


# --- region ----------------------------------------------------------------------------------

INDICATOR_CHECKS = [
    ("regional_indicators", "no_small_counts_shown"),
    ("regional_indicators", "figures_from_published_counts"),
    ("regional_indicators", "disclosure_audit_passes"),
]


def test_indicator_checks_fail_on_a_small_count_in_the_store(region, copy):
    changed = execute(
        copy,
        "UPDATE indicators SET value = 3 WHERE quarter = ? AND level = 'regio' AND indicator = "
        "(SELECT min(indicator) FROM indicators WHERE quarter = ? AND level = 'regio' AND value >= 10 "
        "AND unit = 'aantal') RETURNING 1",
        [QUARTER, QUARTER],
    )
    assert changed == 1
    evaluations = run_checks(copy, region["landing"], *INDICATOR_CHECKS)
    assert not evaluations["regional_indicators", "no_small_counts_shown"].passed
    assert not evaluations["regional_indicators", "disclosure_audit_passes"].passed


def test_indicator_checks_fail_without_stored_indicators(region, copy):
    execute(copy, "DELETE FROM indicators WHERE quarter = ? RETURNING 1", [QUARTER])
    evaluations = run_checks(copy, region["landing"], *INDICATOR_CHECKS)
    assert not any(e.passed for e in evaluations.values())
    assert all("no indicators stored" in e.description for e in evaluations.values())


def test_no_patient_id_under_region_fails_on_a_planted_id(region, copy):
    with store.connect(copy.database) as conn:
        (planted,) = conn.execute("SELECT min(patient_id) FROM score_history").fetchone()
    path = copy.region_out(QUARTER) / "indicators.csv"
    path.write_text(path.read_text(encoding="utf-8-sig") + f"x{planted}y\n", encoding="utf-8")
    evaluations = run_checks(copy, region["landing"], ("regional_dashboard", "no_patient_id_under_region"))
    failed = evaluations["regional_dashboard", "no_patient_id_under_region"]
    assert not failed.passed and "indicators.csv" in failed.description
    assert planted not in text_of(failed)


def test_no_patient_id_under_region_fails_when_the_dashboard_is_missing(region, copy):
    (copy.region_out(QUARTER) / "dashboard.html").unlink()
    evaluations = run_checks(copy, region["landing"], ("regional_dashboard", "no_patient_id_under_region"))
    assert not evaluations["regional_dashboard", "no_patient_id_under_region"].passed


# --- feedback and evaluation -----------------------------------------------------------------


def test_feedback_check_fails_on_a_planted_id_and_on_a_missing_report(region, copy):
    with store.connect(copy.database) as conn:
        (planted,) = conn.execute(
            "SELECT min(patient_id) FROM score_history WHERE practice_id = 'P0001'"
        ).fetchone()
    report = copy.practice_out(QUARTER, "P0001") / "feedback.html"
    report.write_text(
        report.read_text(encoding="utf-8").replace("</body>", f"{planted}</body>"), encoding="utf-8"
    )
    (copy.practice_out(QUARTER, "P0002") / "feedback.html").unlink()
    key = ("practice_feedback", "no_patient_id_in_feedback")
    planted_run = run_checks(copy, region["landing"], key, practice_id="P0001")[key]
    assert not planted_run.passed and planted not in text_of(planted_run)
    assert not run_checks(copy, region["landing"], key, practice_id="P0002")[key].passed


def test_evaluation_counts_check_fails_on_a_small_count_and_without_rows(region, copy):
    key = ("regional_evaluation", "evaluation_counts_suppressed")
    changed = execute(
        copy,
        "UPDATE outreach_evaluation SET value = 4 WHERE quarter = ? AND measure = 'n' "
        "AND key = (SELECT min(key) FROM outreach_evaluation WHERE quarter = ? AND measure = 'n') RETURNING 1",
        [QUARTER, QUARTER],
    )
    assert changed == 1
    assert not run_checks(copy, region["landing"], key)[key].passed
    execute(copy, "DELETE FROM outreach_evaluation RETURNING 1")
    failed = run_checks(copy, region["landing"], key)[key]
    assert not failed.passed and "no evaluation" in failed.description


def test_evaluation_privacy_check_fails_on_a_planted_id_and_a_missing_file(region, copy):
    key = ("regional_evaluation", "no_patient_id_in_evaluation")
    with store.connect(copy.database) as conn:
        (planted,) = conn.execute("SELECT max(patient_id) FROM score_history").fetchone()
    path = copy.region_out(QUARTER) / "evaluation.csv"
    path.write_text(path.read_text(encoding="utf-8-sig") + f"{planted}\n", encoding="utf-8")
    failed = run_checks(copy, region["landing"], key)[key]
    assert not failed.passed and "evaluation.csv" in failed.description
    path.unlink()
    failed = run_checks(copy, region["landing"], key)[key]
    assert not failed.passed and "evaluation.csv missing" in failed.description
