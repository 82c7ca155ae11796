"""The risk model: who among the first-time crossers most likely needs unplanned care next year.

It orders the outreach list (sql/outreach/build.sql reads risk_scores); it never removes anyone.

Learning (train_or_load):
  * examples: every patient registered on the training reference dates of every practice, read
    from the practice's latest delivery (models/features.py, sql/model/): features at R, the
    outcome in (R, R + window]. Only reference dates whose window has passed by that delivery's
    extraction date are used (quarter Q-4 and earlier for 365 days): the time split.
  * held-out practices: a quarter of the practices (at least one; chosen by a seeded hash) never
    take part in fitting; the model is evaluated on them at their most recent reference date.
  * estimator: regularised logistic regression (splines for age and the counts, log days since
    the last contact), calibrated with CalibratedClassifierCV (sigmoid, stratified 3-fold).
  * saved under <home>/models/<name>/<version>/: model.joblib, model.json (version, training
    data window, profile, outcome, metrics, sha256 of the model file) and evaluation.parquet
    (the held-out examples with their predictions) for `omu model report`.
  The version is derived from the examples and the settings, so the same data gives the same
  version and the saved model is loaded instead of fitted again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import duckdb
import joblib
import numpy as np
import polars as pl
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, SplineTransformer, StandardScaler

from omu.file_reading import sha256_of
from omu.home import OmuHome
from omu.models.features import DESCRIPTIVE, TrainingWindow, feature_names, features_at
from omu.models.outcome import Outcome
from omu.screening.profile import Profile
from omu.sql import register_temp_table, run_sql, run_sql_in_transaction

MODEL_FORMAT = 1  # bump when the estimator, its fixed settings or the saved files change
MODEL_FILE, META_FILE, EVALUATION_FILE = "model.joblib", "model.json", "evaluation.parquet"
SPLINE_FEATURES = (
    "age",
    "n_chronic_episodes",
    "n_medicines_past_year",
    "n_contacts_past_year",
    "unplanned_care_past_year",
)
DAYS_FEATURES = ("days_since_last_contact",)
NO_CONTACT_DAYS = 3650  # "no contact in the extract" is read as ten years


class NotEnoughData(Exception):
    """Too little history or too few outcomes to learn from; the lists stay in score order."""


class ModelError(Exception):
    """A saved model that cannot be used (damaged file, other profile or features)."""


@dataclass(frozen=True)
class ModelSpec:
    seed: int = 8
    c: float = 1.0  # inverse L2 strength of the logistic regression
    n_knots: int = 6
    calibration: str = "sigmoid"  # sigmoid keeps the order of the fitted risks; isotonic makes ties
    calibration_folds: int = 3
    test_share: float = 0.25  # share of practices held out for evaluation (at least one)
    min_train_events: int = 50
    min_test_events: int = 20
    window: TrainingWindow = field(default_factory=TrainingWindow)


@dataclass
class RiskModel:
    estimator: CalibratedClassifierCV
    meta: dict
    path: Path | None = None

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def version(self) -> str:
        return self.meta["version"]

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])

    def predict(self, frame: pl.DataFrame) -> np.ndarray:
        """Predicted probability of the outcome within the window, per row of a features frame."""
        if frame.is_empty():
            return np.zeros(0)
        return self.estimator.predict_proba(design_matrix(frame, self.features))[:, 1]


@dataclass
class TrainResult:
    model: RiskModel | None
    trained: bool  # False: loaded (same data and settings) or not possible
    message: str
    examples: int = 0


def model_name(outcome: Outcome) -> str:
    return outcome.label


def design_matrix(frame: pl.DataFrame, names: list[str]) -> np.ndarray:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ModelError(f"the features {', '.join(missing)} are missing")
    return frame.select(pl.col(names).cast(pl.Float64)).to_numpy()


def build_estimator(names: list[str], train: np.ndarray, spec: ModelSpec) -> CalibratedClassifierCV:
    """Logistic regression on splines of age and the counts (a column with fewer than 4 distinct
    values stays linear), log days since the last contact, the flags, sex and deprivation as they
    are; calibrated by cross-validation."""
    spline, linear, days = [], [], []
    for index, name in enumerate(names):
        values = train[:, index]
        if name in DAYS_FEATURES:
            days.append(index)
        elif name in SPLINE_FEATURES and np.unique(values[~np.isnan(values)]).size >= 4:
            spline.append(index)
        else:
            linear.append(index)
    parts = [("linear", make_pipeline(SimpleImputer(strategy="most_frequent"), StandardScaler()), linear)]
    if spline:
        parts.append(
            (
                "spline",
                make_pipeline(
                    SimpleImputer(strategy="median"), SplineTransformer(n_knots=spec.n_knots, degree=3)
                ),
                spline,
            )
        )
    if days:
        parts.append(
            (
                "days",
                make_pipeline(
                    SimpleImputer(strategy="constant", fill_value=NO_CONTACT_DAYS, add_indicator=True),
                    FunctionTransformer(np.log1p),
                    StandardScaler(),
                ),
                days,
            )
        )
    pipeline = Pipeline(
        [
            ("features", ColumnTransformer(parts)),
            ("logistic", LogisticRegression(C=spec.c, solver="newton-cholesky", max_iter=200)),
        ]
    )
    folds = StratifiedKFold(spec.calibration_folds, shuffle=True, random_state=spec.seed)
    return CalibratedClassifierCV(pipeline, method=spec.calibration, cv=folds)


def split_practices(practices: list[str], spec: ModelSpec) -> tuple[list[str], list[str]]:
    """(training, held out): practices ordered by a seeded hash; the first quarter held out."""
    if len(practices) < 2:
        raise NotEnoughData(
            f"the model needs at least 2 practices with enough history (one to learn from, one to "
            f"test on); the store has {len(practices)}"
        )
    ordered = sorted(practices, key=lambda p: hashlib.sha256(f"{spec.seed}:{p}".encode()).hexdigest())
    held = max(1, min(len(practices) - 1, math.ceil(len(practices) * spec.test_share)))
    return sorted(ordered[held:]), sorted(ordered[:held])


def fingerprint(
    examples: pl.DataFrame, names: list[str], profile: Profile, outcome: Outcome, spec: ModelSpec
) -> str:
    digest = hashlib.sha256()
    settings = {
        "format": MODEL_FORMAT,
        "sklearn": sklearn.__version__,
        "features": names,
        "profile": [profile.name, profile.version],
        "outcome": [outcome.label, outcome.window_days],
        "spec": asdict(spec),
    }
    digest.update(json.dumps(settings, sort_keys=True, default=str).encode())
    digest.update(examples.select(*DESCRIPTIVE[:3], *names, "outcome").write_csv().encode())
    return digest.hexdigest()


def _metrics(y: np.ndarray, risk: np.ndarray, score: np.ndarray) -> dict:
    return {
        "examples": int(y.size),
        "events": int(y.sum()),
        "prevalence": float(y.mean()),
        "auc_model": float(roc_auc_score(y, risk)),
        "auc_score": float(roc_auc_score(y, score)),
        "brier_model": float(brier_score_loss(y, risk)),
        "mean_predicted": float(risk.mean()),
    }


def fit(
    examples: pl.DataFrame, profile: Profile, outcome: Outcome, spec: ModelSpec = ModelSpec()
) -> tuple[RiskModel, pl.DataFrame]:
    """Fit on the training practices, evaluate on the held-out ones. Returns the model (not yet
    saved) and the held-out examples with their predicted risk."""
    if examples.is_empty():
        raise NotEnoughData(
            "no practice has a reference date whose 12-month outcome window has passed "
            "(the latest delivery must reach at least 4 quarters and a year of history back)"
        )
    names = feature_names(profile)
    train_practices, test_practices = split_practices(
        sorted(examples["practice_id"].unique().to_list()), spec
    )
    train = examples.filter(pl.col("practice_id").is_in(train_practices))
    test = examples.filter(pl.col("practice_id").is_in(test_practices)).filter(
        pl.col("quarter") == pl.col("quarter").max().over("practice_id")
    )
    for part, frame, needed in (
        ("training", train, spec.min_train_events),
        ("held-out", test, spec.min_test_events),
    ):
        events = int(frame["outcome"].sum())
        if events < needed or frame.height - events < needed:
            raise NotEnoughData(
                f"too few outcomes in the {part} practices: {events} events among {frame.height} "
                f"patients (needs at least {needed} with and {needed} without)"
            )
    x_train = design_matrix(train, names)
    estimator = build_estimator(names, x_train, spec)
    estimator.fit(x_train, train["outcome"].to_numpy())
    risk = estimator.predict_proba(design_matrix(test, names))[:, 1]
    evaluation = test.with_columns(pl.Series("predicted_risk", risk))
    version_hash = fingerprint(examples, names, profile, outcome, spec)
    data_until = max(examples["source_quarter"].unique().to_list())
    reference_dates: list[dt.date] = examples["reference_date"].to_list()
    meta = {
        "name": model_name(outcome),
        "version": f"{data_until}.{version_hash[:10]}",
        "format": MODEL_FORMAT,
        "fingerprint": version_hash,
        "trained_at": dt.datetime.now().isoformat(timespec="seconds"),
        "estimator": "logistic regression (L2, splines) calibrated by CalibratedClassifierCV "
        f"({spec.calibration}, {spec.calibration_folds}-fold)",
        "sklearn": sklearn.__version__,
        "features": names,
        "profile": {"name": profile.name, "version": profile.version},
        "outcome": {
            "name": outcome.name,
            "version": outcome.version,
            "window_days": outcome.window_days,
            "contact_kinds": outcome.contact_kinds,
            "episode_codelist": outcome.episode_codelist,
        },
        "training_window": {
            "reference_dates": sorted({d.isoformat() for d in reference_dates}),
            "first_reference_date": min(reference_dates).isoformat(),
            "last_reference_date": max(reference_dates).isoformat(),
            "outcomes_observed_until": data_until,
            "deliveries": {
                p: q for p, q in examples.select("practice_id", "source_quarter").unique().iter_rows()
            },
            "reference_quarters_per_practice": spec.window.reference_quarters,
        },
        "practices": {"training": train_practices, "held_out": test_practices},
        "training": {"examples": train.height, "events": int(train["outcome"].sum())},
        "held_out": _metrics(test["outcome"].to_numpy(), risk, test["score"].to_numpy()),
        "spec": asdict(spec),
    }
    return RiskModel(estimator, meta), evaluation


def model_dir(home: OmuHome, name: str, version: str) -> Path:
    return home.models / name / version


def save_model(home: OmuHome, model: RiskModel, evaluation: pl.DataFrame) -> Path:
    """Write the model folder completely beside its place, then move it in (never half a model)."""
    target = model_dir(home, model.name, model.version)
    partial = target.with_name(f".{target.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    joblib.dump(model.estimator, partial / MODEL_FILE)
    evaluation.write_parquet(partial / EVALUATION_FILE)
    meta = dict(
        model.meta,
        sha256={
            MODEL_FILE: sha256_of(partial / MODEL_FILE),
            EVALUATION_FILE: sha256_of(partial / EVALUATION_FILE),
        },
    )
    (partial / META_FILE).write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    model.meta, model.path = meta, target
    return target


def read_meta(folder: Path) -> dict | None:
    try:
        return json.loads((folder / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def list_models(home: OmuHome, name: str | None = None) -> list[dict]:
    """The saved models' metadata (name, version, trained_at, ...), oldest first."""
    metas = []
    for folder in sorted(home.models.glob("*/*")) if home.models.is_dir() else []:
        meta = read_meta(folder) if folder.is_dir() and not folder.name.startswith(".") else None
        if meta and (name is None or meta.get("name") == name):
            metas.append(dict(meta, path=str(folder)))
    return sorted(metas, key=lambda m: (m.get("trained_at", ""), m.get("version", "")))


def load_model(
    home: OmuHome, name: str, version: str | None = None, *, profile: Profile | None = None
) -> RiskModel | None:
    """The model `name` (the given version, else the latest trained; for `profile` when given),
    its file checked against the sha256 it was saved with. None when there is none."""
    candidates = [
        m
        for m in list_models(home, name)
        if (version is None or m["version"] == version)
        and (profile is None or m["profile"] == {"name": profile.name, "version": profile.version})
    ]
    if not candidates:
        return None
    meta = candidates[-1]
    folder = Path(meta.pop("path"))
    if meta.get("format") != MODEL_FORMAT:
        raise ModelError(
            f"model {name} {meta['version']} has format {meta.get('format')}; this omu reads "
            f"format {MODEL_FORMAT}: train it again (omu run)"
        )
    if sha256_of(folder / MODEL_FILE) != meta["sha256"][MODEL_FILE]:
        raise ModelError(f"{folder / MODEL_FILE} does not match the sha256 it was saved with; not using it")
    return RiskModel(joblib.load(folder / MODEL_FILE), meta, folder)


def train_or_load(
    examples: pl.DataFrame, home: OmuHome, profile: Profile, outcome: Outcome, spec: ModelSpec = ModelSpec()
) -> TrainResult:
    """From the examples (training_examples, built under the store lock; fitting needs no lock):
    load the saved model made from exactly these examples and settings, or fit and save a new one.
    Too little data: a TrainResult without a model and a message saying why."""
    if not examples.is_empty():
        version_hash = fingerprint(examples, feature_names(profile), profile, outcome, spec)
        version = f"{max(examples['source_quarter'].unique().to_list())}.{version_hash[:10]}"
        try:
            existing = load_model(home, model_name(outcome), version, profile=profile)
        except ModelError:
            existing = None
        if existing is not None:
            return TrainResult(
                existing,
                False,
                f"loaded {existing.name} {existing.version}: same data and settings",
                examples.height,
            )
    try:
        model, evaluation = fit(examples, profile, outcome, spec)
    except NotEnoughData as error:
        return TrainResult(None, False, f"risk model not trained: {error}", examples.height)
    save_model(home, model, evaluation)
    return TrainResult(
        model,
        True,
        f"trained {model.name} {model.version} on {model.meta['training']['examples']} examples",
        examples.height,
    )


def score_quarter(
    conn: duckdb.DuckDBPyConnection,
    model: RiskModel | None,
    profile: Profile,
    outcome: Outcome,
    *,
    practice_id: str,
    quarter: str,
) -> pl.DataFrame:
    """Predicted risk for every patient screened in the practice's quarter, replacing the quarter in
    table risk_scores. Without a model the quarter is emptied (the list falls back to score order).
    score_quarter_batch with a batch of one."""
    scores = score_quarter_batch(conn, model, profile, outcome, quarter=quarter, practice_ids=[practice_id])
    return scores.drop("practice_id")


def score_quarter_batch(
    conn: duckdb.DuckDBPyConnection,
    model: RiskModel | None,
    profile: Profile,
    outcome: Outcome,
    *,
    quarter: str,
    practice_ids: Sequence[str],
) -> pl.DataFrame:
    """score_quarter for several practices of one quarter in one pass (features, prediction and
    one write transaction); the frame has a practice_id column (pseudonyms are unique only
    within a practice)."""
    frame = pl.DataFrame(
        schema={
            "practice_id": pl.String,
            "patient_id": pl.String,
            "predicted_risk": pl.Float64,
            "model_name": pl.String,
            "model_version": pl.String,
            "over_threshold": pl.Boolean,
        }
    )
    practice_ids = list(practice_ids)
    if not practice_ids:
        return frame
    if model is not None:
        if model.features != feature_names(profile):
            raise ModelError(
                f"model {model.name} {model.version} was trained on other features than profile "
                f"{profile.name} v{profile.version} gives"
            )
        features = features_at(conn, profile, outcome, practice_ids=practice_ids, quarter=quarter)
        frame = features.select(
            "practice_id",
            "patient_id",
            pl.Series("predicted_risk", model.predict(features), dtype=pl.Float64),
            pl.lit(model.name).alias("model_name"),
            pl.lit(model.version).alias("model_version"),
            "over_threshold",
        )
    run_sql(conn, "outreach/schema")  # declares risk_scores
    register_temp_table(conn, "new_risk_scores", frame)
    run_sql_in_transaction(conn, "model/write_scores", {"practice_ids": practice_ids, "quarter": quarter})
    return frame
