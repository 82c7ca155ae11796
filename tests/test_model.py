"""The risk model (models/, sql/model/, assets/model.py), on generated data with a known truth.

One larger generated region per session (8 practices of 3,000-3,500 patients, one delivery each,
loaded by the real ingest into a real DuckDB file) gives the examples, the fitted model and the
report; a one-practice run through Dagster shows the fallback to score order; a small store is
altered after the reference date to prove that no outcome information leaks into the features.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omu import store
from omu.assets.model import risk_model, risk_scores
from omu.assets.outreach import outreach_list
from omu.assets.screening import first_time_crossers, score_history
from omu.home import OmuHome
from omu.ingest.load import ingest_delivery
from omu.models.features import feature_names, features_at, training_examples
from omu.models.outcome import OutcomeError, load_outcome
from omu.models.report import auc, build_report, render_html, write_report
from omu.models.risk import (
    ModelError,
    ModelSpec,
    NotEnoughData,
    fingerprint,
    fit,
    load_model,
    score_quarter,
    score_quarter_batch,
    split_practices,
    train_or_load,
)
from omu.pipelines.partitions import partition_key
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.pipelines.runner import run_chain
from omu.quarters import quarter_range
from omu.screening.profile import load_profile
from omu.synthetic import generate

LATEST = "2026Q3"
BIG: dict[str, Any] = {
    "practices": 8,
    "quarters": quarter_range(LATEST),
    "seed": 2024,
    "patients": (3000, 3500),
}
PROFILE = load_profile()
OUTCOME = load_outcome()


@pytest.fixture(scope="session")
def region(tmp_path_factory) -> dict:
    """The generated region, ingested (real ingest, real DuckDB file); generated once per session."""
    root = tmp_path_factory.mktemp("model-region")
    landing, truth = root / "landing", root / "truth"
    summary = generate(landing, truth_dir=truth, **BIG)
    home = OmuHome(root / "home").prepare()
    for delivery in summary.delivery_dirs:
        assert ingest_delivery(home, delivery).status == "loaded"
    return {"home": home, "landing": landing, "truth": truth}


@pytest.fixture(scope="session")
def examples(region) -> pl.DataFrame:
    with store.connect(region["home"].database) as conn:
        return training_examples(conn, PROFILE, OUTCOME)


@pytest.fixture(scope="session")
def truth(region) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted(region["truth"].glob("*.parquet"))])


@pytest.fixture(scope="session")
def trained(region, examples):
    result = train_or_load(examples, region["home"], PROFILE, OUTCOME)
    assert result.trained and result.model is not None, result.message
    return result.model


@pytest.fixture(scope="session")
def report(region, trained) -> dict:
    evaluation = pl.read_parquet(trained.path / "evaluation.parquet")
    return build_report(trained, evaluation, region["truth"], repeats=300)


# ------------------------------------------------------------------------------------------ outcome


def test_outcome_is_data():
    assert (OUTCOME.name, OUTCOME.version, OUTCOME.window_days) == ("unplanned-care", 1, 365)
    codes = OUTCOME.codes_frame()
    assert set(codes.filter(pl.col("role") == "contact_kind")["code"]) == {"huisartsenpost"}
    assert {"S16", "L75", "A80"} <= set(codes.filter(pl.col("role") == "episode")["code"])


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nversion: 1\ncontact_kinds: out_of_hours_contacts\n", "missing 'window_days'"),
        (
            "name: x\nversion: 1\nwindow_days: 0\ncontact_kinds: out_of_hours_contacts\n",
            "window_days must be",
        ),
        ("name: x\nversion: 1\nwindow_days: 365\n", "needs contact_kinds and/or episode_codelist"),
        (
            "name: x\nversion: 1\nwindow_days: 365\nepisode_codelist: no_such_list\n",
            "unknown codelist 'no_such_list'",
        ),
    ],
)
def test_a_broken_outcome_is_refused_with_a_reason(tmp_path, text, message):
    path = tmp_path / "outcome.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(OutcomeError, match=message):
        load_outcome(path)


# ------------------------------------------------------------------------------- examples, time split


def test_time_split_learns_only_from_windows_that_have_passed(region, examples):
    with store.connect(region["home"].database) as conn:
        extracted = dict(conn.execute("SELECT practice_id, extracted_on FROM current_deliveries").fetchall())
    per_practice = examples.group_by("practice_id").agg(
        pl.col("quarter").unique().sort(), pl.col("reference_date").max()
    )
    for practice_id, quarters, last_reference in per_practice.iter_rows():
        assert quarters == ["2024Q4", "2025Q1", "2025Q2", "2025Q3"]  # Q-4 and the three before it
        assert last_reference + dt.timedelta(days=OUTCOME.window_days) <= extracted[practice_id]
    assert set(examples["source_quarter"]) == {LATEST}


def test_examples_agree_with_the_generators_truth(examples, truth):
    """The outcome read back from the delivery and the profile's flags at R equal the generator's."""
    joined = examples.join(truth, on=["practice_id", "patient_id", "quarter"], how="left", suffix="_truth")
    assert joined["outcome_12m"].null_count() == 0  # every registered patient is in the truth
    assert (joined["outcome"] == joined["outcome_12m"]).all()
    assert (joined["score"] == joined["score_truth"]).all()
    for flag in PROFILE.characteristic_ids:
        assert (joined[flag].cast(pl.Boolean) == joined[f"{flag}_truth"]).all(), flag
    assert 0.06 < examples["outcome"].mean() < 0.16


def test_features_are_complete_and_plausible(examples):
    names = feature_names(PROFILE)
    assert set(names) <= set(examples.columns)
    assert (
        examples.select(pl.col(n).null_count() for n in names if n != "days_since_last_contact")
        .sum_horizontal()
        .item()
        == 0
    )
    assert examples["age"].min() >= 0 and examples["age"].max() < 115
    assert set(examples["deprivation"].unique()) <= {0, 1, 2}
    older = examples.filter(pl.col("age") >= 75)
    assert older["n_chronic_episodes"].mean() > examples["n_chronic_episodes"].mean()
    assert older["n_medicines_past_year"].mean() > examples["n_medicines_past_year"].mean()


# ----------------------------------------------------------------------------------- model quality


def test_model_beats_the_points_score_and_nears_the_truth(report):
    d = report["discrimination"]
    assert report["truth_check"]["outcome_agreement"] == 1.0
    assert report["truth_check"]["examples_without_truth"] == 0
    assert d["model"]["auc"] > d["score"]["auc"]
    assert d["model_minus_score"]["ci95"][0] > 0  # better beyond chance
    assert abs(d["truth"]["auc"] - d["model"]["auc"]) <= 0.03
    assert report["brier"]["model"] < report["brier"]["prevalence_only"]


def test_model_is_calibrated_overall_and_by_group(report):
    calibration = report["calibration"]
    assert abs(calibration["mean_predicted"] - calibration["observed"]) < 0.015
    assert 0.75 < calibration["slope"] < 1.25
    for key in ("calibration_by_sex", "calibration_by_deprivation"):
        for row in report[key]:
            if (row["n"] or 0) >= 500:  # large groups: observed / expected near 1
                assert 0.75 < row["observed_over_expected"] < 1.3, (key, row)


def test_held_out_practices_never_take_part_in_fitting(trained):
    practices = trained.meta["practices"]
    assert practices["held_out"] and practices["training"]
    assert not set(practices["held_out"]) & set(practices["training"])
    assert len(practices["held_out"]) == 2  # a quarter of 8
    evaluation = pl.read_parquet(trained.path / "evaluation.parquet")
    assert set(evaluation["practice_id"]) == set(practices["held_out"])
    assert set(evaluation["quarter"]) == {"2025Q3"}  # their latest reference date, Q-4


def test_training_is_deterministic_for_a_seed(examples):
    subset = examples.filter(pl.col("practice_id").is_in(["P0001", "P0002", "P0003"]))
    spec = ModelSpec(seed=5)
    first, evaluation = fit(subset, PROFILE, OUTCOME, spec)
    second, _ = fit(subset, PROFILE, OUTCOME, spec)
    assert first.version == second.version
    assert np.array_equal(first.predict(evaluation), second.predict(evaluation))
    names = feature_names(PROFILE)
    assert fingerprint(subset, names, PROFILE, OUTCOME, ModelSpec(seed=6)) != first.meta["fingerprint"]


def test_saved_model_is_loaded_by_name_and_checked(region, trained, examples, tmp_path):
    meta = trained.meta
    assert meta["name"] == "unplanned-care-v1" and meta["version"].startswith(f"{LATEST}.")
    assert meta["profile"] == {"name": PROFILE.name, "version": PROFILE.version}
    assert meta["training_window"]["first_reference_date"] == "2024-12-31"
    assert meta["training_window"]["last_reference_date"] == "2025-09-30"
    assert len(meta["sha256"]["model.joblib"]) == 64
    loaded = load_model(region["home"], "unplanned-care-v1", profile=PROFILE)
    evaluation = pl.read_parquet(trained.path / "evaluation.parquet")
    assert loaded.version == trained.version
    assert np.array_equal(loaded.predict(evaluation), evaluation["predicted_risk"].to_numpy())
    # the same data and settings load the saved model instead of fitting again
    again = train_or_load(examples, region["home"], PROFILE, OUTCOME)
    assert not again.trained and again.model.version == trained.version
    # a changed model file is refused
    copy = OmuHome(tmp_path / "home")
    shutil.copytree(trained.path, copy.models / trained.name / trained.version)
    with (copy.models / trained.name / trained.version / "model.joblib").open("ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelError, match="sha256"):
        load_model(copy, trained.name)


def test_too_little_data_says_why():
    with pytest.raises(NotEnoughData, match="at least 2 practices"):
        split_practices(["P0001"], ModelSpec())
    empty = pl.DataFrame(schema={"practice_id": pl.String, "outcome": pl.Boolean})
    with pytest.raises(NotEnoughData, match="window has passed"):
        fit(empty, PROFILE, OUTCOME)


def test_auc_helper_matches_sklearn():
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(1)
    y = rng.random(500) < 0.2
    score = rng.integers(0, 5, 500) + y  # ties
    assert auc(y, score) == pytest.approx(roc_auc_score(y, score))


# ------------------------------------------------------------------------------------------ report


def test_report_files(region, trained):
    paths = write_report(region["home"], truth_dir=region["truth"], repeats=100)
    assert paths.html == region["home"].out / "model" / "report.html"
    page = paths.html.read_text(encoding="utf-8")
    assert "<script src=" not in page and "Plotly.newPlot" in page  # plotly.js inline: works offline
    for heading in (
        "Discrimination",
        "By sex",
        "By wijk deprivation group",
        "Permutation importance",
        "Calibration",
    ):
        assert heading in page
    saved = json.loads(paths.json.read_text(encoding="utf-8"))
    assert saved["model"]["version"] == trained.version
    assert {"model", "score", "truth", "model_minus_score", "truth_minus_model"} <= set(
        saved["discrimination"]
    )
    assert {r["group"] for r in saved["calibration_by_deprivation"]} <= {"laag", "midden", "hoog", "onbekend"}
    assert {r["feature"] for r in saved["permutation_importance"]} == set(trained.features)
    with duckdb.connect(str(region["home"].database), read_only=True) as conn:
        logged = conn.execute(
            "SELECT patients, detail FROM access_log WHERE action = 'model_report'"
        ).fetchall()
    assert logged and logged[-1][0] == pl.read_parquet(trained.path / "evaluation.parquet").height
    assert logged[-1][1].startswith(f"{trained.name} {trained.version}")


COUNT_KEYS = {"n", "events", "examples", "examples_with_truth", "examples_without_truth"}


def _shown_counts(value, path="") -> list[tuple[str, int | None]]:
    """Every count in the report JSON, with where it is."""
    if isinstance(value, dict):
        return [
            item
            for key, inner in value.items()
            for item in (
                [(f"{path}.{key}", inner)]
                if key in COUNT_KEYS and not isinstance(inner, dict)
                else _shown_counts(inner, f"{path}.{key}")
            )
        ]
    if isinstance(value, list):
        return [
            item for number, inner in enumerate(value) for item in _shown_counts(inner, f"{path}[{number}]")
        ]
    return []


def test_the_report_shows_counts_by_the_regional_rules(region, trained):
    """Read back from report.json and report.html: no count of 1-7, every count a multiple of 5, and
    every share computed from the shown counts (or hidden with them)."""
    paths = write_report(region["home"], truth_dir=region["truth"], repeats=50)
    saved = json.loads(paths.json.read_text(encoding="utf-8"))
    counts = _shown_counts(saved)
    assert len(counts) > 30 and any(where.endswith("calibration_by_sex[2].n") for where, _ in counts)
    assert [(where, n) for where, n in counts if n is not None and (1 <= n <= 7 or n % 5)] == []
    for row in (
        saved["calibration"]["bins"] + saved["calibration_by_sex"] + saved["calibration_by_deprivation"]
    ):
        if row["events"] is None:
            assert row["observed"] is None and row["observed_ci95"] == [None, None]
        else:
            assert row["observed"] == pytest.approx(row["events"] / row["n"])
    held = saved["held_out"]
    assert held["prevalence"] == pytest.approx(held["events"] / held["examples"])
    page = paths.html.read_text(encoding="utf-8")
    cells = re.findall(r"<tr>(.*?)</tr>", page)
    group_rows = [re.findall(r"<td>(.*?)</td>", row) for row in cells]
    group_counts = [cell for row in group_rows if len(row) == 8 for cell in row[1:3]]
    assert len(group_counts) >= 10
    in_text = re.findall(r"(\d+) (?:patients|examples|with the outcome|held-out patients)", page)
    assert in_text
    for shown in group_counts + in_text:
        assert shown == "" or (int(shown) % 5 == 0 and not 1 <= int(shown) <= 7), shown


def test_a_tiny_group_is_hidden_with_its_share(trained):
    """Three patients of sex O in the held-out set: their n, events, share and AUC are not shown."""
    evaluation = pl.read_parquet(trained.path / "evaluation.parquet")
    evaluation = evaluation.with_columns(
        pl.when(pl.int_range(pl.len()) < 3)
        .then(pl.lit("O"))
        .when(pl.col("sex") == "O")
        .then(pl.lit("V"))
        .otherwise(pl.col("sex"))
        .alias("sex")
    )
    report = build_report(trained, evaluation, repeats=20)
    (tiny,) = [row for row in report["calibration_by_sex"] if row["group"] == "O"]
    assert tiny["n"] is None and tiny["events"] is None and tiny["observed"] is None and tiny["auc"] is None
    assert tiny["observed_over_expected"] is None and tiny["observed_ci95"] == [None, None]
    assert tiny["mean_predicted"] is None  # the average of 3 people's predictions is about them
    render_html(report, [])  # a hidden group renders as empty cells


# ---------------------------------------------------------------------------------------- Dagster


def _resources(home: OmuHome, landing: Path) -> dict:
    return {
        "store": DuckDBStore(database=str(home.database)),
        "omu": OmuSettings(home=str(home.root), landing=str(landing)),
    }


def test_dagster_assets_order_the_outreach_list_by_predicted_risk(region, trained):
    """Real materialisations: risk_model (loads the session's model: same data), then one
    practice-quarter's screening, risk_scores and outreach list."""
    home = region["home"]
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("practice", ["P0001"])
    instance.add_dynamic_partitions("quarter", [LATEST])
    resources = _resources(home, region["landing"])
    result = dg.materialize([risk_model], resources=resources, instance=instance)
    assert result.success
    metadata = result.asset_materializations_for_node("risk_model")[0].metadata
    assert (
        metadata["status"].value == "loaded"
        and metadata["model"].value == f"{trained.name} {trained.version}"
    )
    result = dg.materialize(
        [score_history, first_time_crossers, risk_scores, outreach_list],
        resources=resources,
        instance=instance,
        partition_key=partition_key("P0001", LATEST),
    )
    assert result.success
    with store.connect(home.database) as conn:
        scores = conn.sql("SELECT * FROM risk_scores WHERE practice_id = 'P0001' AND quarter = '2026Q3'").pl()
        (screened,) = conn.sql(
            "SELECT count(*) FROM screening WHERE practice_id = 'P0001' AND quarter = '2026Q3'"
        ).fetchall()[0]
        listed = conn.sql(
            "SELECT * FROM outreach_lists WHERE practice_id = 'P0001' AND quarter = '2026Q3' "
            "ORDER BY list_kind, rank"
        ).pl()
    assert scores.height == screened and set(scores["model_version"]) == {trained.version}
    assert listed.height > 0 and listed["predicted_risk"].null_count() == 0
    for _, part in listed.group_by("list_kind"):
        risks = part.sort("rank")["predicted_risk"].to_list()
        assert risks == sorted(risks, reverse=True)


def test_a_batch_of_practices_is_scored_exactly_as_practice_by_practice(region, trained, tmp_path):
    """score_quarter_batch scores several practices of a quarter in one pass; the same store copied
    twice holds the very same risk_scores after it as after score_quarter practice by practice.
    Without a model the batch's quarters are emptied, and only theirs."""
    copies = {way: tmp_path / f"{way}.duckdb" for way in ("batch", "one_by_one")}
    for path in copies.values():
        shutil.copy(region["home"].database, path)
    practices = ["P0001", "P0002", "P0003"]
    with store.connect(copies["batch"]) as conn:
        batch = score_quarter_batch(conn, trained, PROFILE, OUTCOME, quarter=LATEST, practice_ids=practices)
    with store.connect(copies["one_by_one"]) as conn:
        one_by_one = {
            p: score_quarter(conn, trained, PROFILE, OUTCOME, practice_id=p, quarter=LATEST)
            for p in practices
        }
    assert batch.height > 0 and batch["practice_id"].unique().sort().to_list() == practices
    for p in practices:
        assert_frame_equal(
            batch.filter(pl.col("practice_id") == p).drop("practice_id"), one_by_one[p], check_exact=True
        )

    def stored(way: str) -> pl.DataFrame:
        with store.connect(copies[way]) as conn:
            return conn.sql("SELECT * EXCLUDE (scored_at) FROM risk_scores ORDER BY ALL").pl()

    assert_frame_equal(stored("batch"), stored("one_by_one"), check_exact=True)
    with store.connect(copies["batch"]) as conn:
        score_quarter_batch(conn, None, PROFILE, OUTCOME, quarter=LATEST, practice_ids=practices[:2])
        left = conn.sql("SELECT practice_id, count(*) FROM risk_scores GROUP BY ALL ORDER BY ALL").fetchall()
    assert left == [("P0003", one_by_one["P0003"].height)]


@pytest.fixture(scope="session")
def small(tmp_path_factory) -> dict:
    """One practice, two quarterly deliveries, run through `omu run`'s chain (all phases, Dagster)."""
    root = tmp_path_factory.mktemp("model-small")
    landing = root / "landing"
    generate(landing, practices=1, quarters=quarter_range("2026Q2:2026Q3"), seed=7, patients=(300, 300))
    home = OmuHome(root / "home")
    summary = run_chain(home, landing)
    return {"home": home, "landing": landing, "summary": summary}


def test_too_little_data_falls_back_to_score_order(small):
    summary = small["summary"]
    assert summary.success, [r.message for r in summary.runs if not r.success]
    model_runs = [r for r in summary.runs if r.job == "model_job"]
    assert len(model_runs) == 1
    instance = dg.DagsterInstance.from_config(str(small["home"].dagster_home))
    materialization = instance.get_latest_materialization_event(
        dg.AssetKey("risk_model")
    ).asset_materialization
    assert materialization.metadata["status"].value == "not trained"
    assert "at least 2 practices" in materialization.metadata["reason"].value
    assert "score order" in materialization.metadata["lists_ordered_by"].value
    assert "risk model" not in summary.outputs
    with store.connect(small["home"].database) as conn:
        assert conn.sql("SELECT count(*) FROM risk_scores").fetchall() == [(0,)]
        listed = conn.sql(
            "SELECT list_kind, rank, score, age, predicted_risk FROM outreach_lists "
            "ORDER BY list_kind, quarter, rank"
        ).pl()
    assert listed.height > 0 and listed["predicted_risk"].null_count() == listed.height


# ---------------------------------------------------------------------------------------- leakage

REFERENCE_QUARTER, REFERENCE = "2025Q3", dt.date(2025, 9, 30)
DATED = {
    "contacts": ["contact_on"],
    "prescriptions": ["prescribed_on"],
    "determinations": ["measured_on"],
    "episodes": ["start_date", "end_date"],
    "patients": ["registered_from", "registered_until"],
}


def _features_and_outcome(database: Path) -> pl.DataFrame:
    with store.connect(database) as conn:
        return features_at(
            conn,
            PROFILE,
            OUTCOME,
            practice_id="P0001",
            quarter=REFERENCE_QUARTER,
            source_quarter=LATEST,
            with_outcome=True,
        )


def _alter(database: Path, statement_per_column: str) -> None:
    with store.connect(database) as conn:
        for table, columns in DATED.items():
            for column in columns:
                conn.execute(statement_per_column.format(table=table, column=column, r=REFERENCE.isoformat()))


@pytest.mark.parametrize("change", ["shift", "delete"])
def test_no_outcome_information_leaks_into_the_features(small, tmp_path, change):
    """Every date after R moved 400 days later, or every row dated after R deleted (and end
    dates after R forgotten): the features at R stay exactly the same, the outcome does not."""
    database = tmp_path / "altered.duckdb"
    shutil.copy(small["home"].database, database)
    before = _features_and_outcome(database)
    if change == "shift":
        _alter(database, "UPDATE {table} SET {column} = {column} + 400 WHERE {column} > DATE '{r}'")
    else:
        with store.connect(database) as conn:
            for table, (column, *_) in DATED.items():
                conn.execute(f"DELETE FROM {table} WHERE {column} > DATE '{REFERENCE}'")
            conn.execute(f"UPDATE episodes SET end_date = NULL WHERE end_date > DATE '{REFERENCE}'")
            conn.execute(
                f"UPDATE patients SET registered_until = NULL, end_reason = NULL "
                f"WHERE registered_until > DATE '{REFERENCE}'"
            )
    after = _features_and_outcome(database)
    assert before.height > 200 and before["outcome"].sum() > 10
    features = ["patient_id", *feature_names(PROFILE), "score", "over_threshold", "deprivation_group"]
    assert_frame_equal(before.select(features), after.select(features))
    assert not after["outcome"].equals(before["outcome"])  # the alteration reached the outcome window
    with duckdb.connect(str(database), read_only=True) as conn:
        later = conn.execute(
            f"SELECT count(*) FROM contacts WHERE contact_on > DATE '{REFERENCE}'"
        ).fetchall()[0][0]
    assert (later > 0) if change == "shift" else (later == 0)
