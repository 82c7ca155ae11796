"""The risk model: `risk_model` learns (or loads) it from every practice in the store; `risk_scores`
writes the predicted risk of one practice-quarter's screened patients, which orders its outreach
list (sql/outreach/build.sql). The model never removes anyone from a list. With too little data
there is no model: the step says why and the lists stay in score order (models/risk.py).
"""

import dagster as dg
import polars as pl

from omu import audit
from omu.assets.errors import values_withheld
from omu.assets.ingest import RAW_TABLES
from omu.assets.screening import first_time_crossers
from omu.models.features import training_examples
from omu.models.outcome import load_outcome
from omu.models.risk import ModelError, ModelSpec, load_model, model_name, score_quarter_batch, train_or_load
from omu.pipelines.partitions import batch_label, deliveries_of, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings


@dg.asset(deps=list(RAW_TABLES), group_name="model", kinds={"duckdb", "scikitlearn"})
@values_withheld
def risk_model(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Risk of unplanned care (out-of-hours contact or fall injury) within a year: features at
    reference dates of quarter Q-4 and earlier from each practice's latest delivery, evaluated on
    held-out practices, calibrated; saved under <home>/models/ (loaded when the data are the same)."""
    profile = omu.screening_profile()
    outcome = load_outcome()
    home = omu.omu_home()
    spec = ModelSpec()
    with store.connect() as conn:
        examples = training_examples(conn, profile, outcome, spec.window)
        try:  # no access log entry, no training on the patients' data
            audit.record(
                conn,
                "run",
                patients=examples.select(["practice_id", "patient_id"]).n_unique() if examples.height else 0,
                dagster_run_id=context.run.run_id,
                detail=f"{context.job_name}: risk model trained or loaded",
            )
        except audit.AuditError as error:
            raise dg.Failure(
                str(error), allow_retries=False
            ) from None  # an unwritable log needs a person, not a retry
    result = train_or_load(examples, home, profile, outcome, spec)  # fitting needs no store lock
    if result.model is None:
        try:
            earlier = load_model(home, model_name(outcome), profile=profile)
        except ModelError:
            earlier = None
        fallback = (
            f"the outreach lists keep using the earlier model {earlier.version}"
            if earlier
            else "the outreach lists stay in score order"
        )
        context.log.warning(f"{result.message}; {fallback}")
        return dg.MaterializeResult(
            metadata={
                "status": "not trained",
                "reason": result.message,
                "lists_ordered_by": fallback,
                "examples": result.examples,
            }
        )
    model = result.model
    held_out = model.meta["held_out"]
    context.log.info(result.message)
    return dg.MaterializeResult(
        metadata={
            "status": "trained" if result.trained else "loaded",
            "model": f"{model.name} {model.version}",
            "model_dir": dg.MetadataValue.path(str(model.path)),
            "profile": f"{profile.name} v{profile.version}",
            "examples": result.examples,
            "reference_dates": ", ".join(model.meta["training_window"]["reference_dates"]),
            "held_out_practices": ", ".join(model.meta["practices"]["held_out"]),
            "held_out_auc_model": round(held_out["auc_model"], 4),
            "held_out_auc_score": round(held_out["auc_score"], 4),
            "held_out_brier": round(held_out["brier_model"], 5),
            "sha256": model.meta["sha256"]["model.joblib"],
        }
    )


@dg.asset(
    partitions_def=practice_quarter,
    deps=[first_time_crossers, risk_model],
    group_name="outreach",
    kinds={"duckdb"},
)
@values_withheld
def risk_scores(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Predicted risk of every patient screened in the run's practice-quarters (table risk_scores),
    from the latest saved model for the profile; none without a model (the list is then in score order)."""
    deliveries = deliveries_of(context)
    profile = omu.screening_profile()
    outcome = load_outcome()
    try:
        model = load_model(omu.omu_home(), model_name(outcome), profile=profile)
    except ModelError as error:
        context.log.warning(f"{error}; the outreach lists stay in score order")
        model = None
    with store.connect() as conn:  # one pass per quarter of the batch
        scored = [
            score_quarter_batch(
                conn,
                model,
                profile,
                outcome,
                quarter=quarter,
                practice_ids=[practice_id for practice_id, q in deliveries if q == quarter],
            )
            for quarter in sorted({quarter for _, quarter in deliveries})
        ]
    scores = pl.concat(scored)
    if model is None:
        context.log.warning(
            f"no risk model for profile {profile.name} v{profile.version}: "
            f"the outreach lists of {batch_label(deliveries)} stay in score order"
        )
    # an empty frame (nobody scored) has text columns: filter only rows that exist
    over = scores.filter(pl.col("over_threshold")) if scores.height else scores
    return dg.MaterializeResult(
        metadata={
            "deliveries": batch_label(deliveries),
            "model": f"{model.name} {model.version}" if model else "none: outreach list in score order",
            "patients_scored": scores.height,
            "over_threshold_scored": over.height,
            "mean_risk_over_threshold": _mean_risk(over),
            "mean_risk_all": _mean_risk(scores),
        }
    )


def _mean_risk(scores: pl.DataFrame) -> float:
    """The mean predicted risk, rounded (0.0 for nobody)."""
    mean = scores["predicted_risk"].mean() if scores.height else None
    return round(float(mean), 4) if isinstance(mean, int | float) else 0.0
