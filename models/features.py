"""The risk model's examples: features at a reference date R and the outcome after it, in SQL.

The work (which practices, reference dates and source deliveries) comes from sql/model/work_*.sql;
the population and the profile's flags from the screening's own steps run over that work
(omu.screening.screen.score_work, the same sequence screen() runs); the remaining features from
sql/model/features.sql and the outcome from sql/model/outcome.sql. Python only chooses the files
and reads the result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import polars as pl

from omu.models.outcome import Outcome
from omu.reference import wijken as reference_wijken
from omu.screening.profile import Profile, load_codelist
from omu.screening.screen import prepare_screening_store, score_work
from omu.sql import register_temp_table, run_sql

CHRONIC_CODELIST = "chronic_conditions"  # clinical/codelists/chronic_conditions.csv
LOOKBACK_DAYS = 365  # the "past year" of the count features

# Features besides the profile's own flags (one 0/1 column per characteristic id, notes included).
BASE_FEATURES = (
    "age",
    "female",
    "n_chronic_episodes",
    "n_medicines_past_year",
    "n_contacts_past_year",
    "unplanned_care_past_year",
    "days_since_last_contact",
    "deprivation",
)
# Kept with every example for evaluation and fairness checks, never used to predict.
DESCRIPTIVE = (
    "practice_id",
    "quarter",
    "patient_id",
    "reference_date",
    "source_quarter",
    "sex",
    "wijk_code",
    "deprivation_group",
    "score",
    "over_threshold",
)


@dataclass(frozen=True)
class TrainingWindow:
    reference_quarters: int = 4  # reference dates per practice (quarter L-4 and the ones before it)
    history_days: int = LOOKBACK_DAYS  # the delivery must reach this far back before R


def feature_names(profile: Profile) -> list[str]:
    return [*profile.characteristic_ids, *BASE_FEATURES]


def register_model_tables(conn: duckdb.DuckDBPyConnection, profile: Profile, outcome: Outcome) -> None:
    """Temp tables model_codes (the outcome's codes and the chronic codes) and model_wijken, for the
    SQL its caller runs next (sql/model/features.sql, outcome.sql, evaluation/cohort.sql); the
    store's screening macros and tables. Variables go with each SQL file run."""
    prepare_screening_store(conn, profile)
    chronic = load_codelist(CHRONIC_CODELIST, "icpc").select(pl.lit("chronic").alias("role"), "code")
    codes = pl.concat([outcome.codes_frame(), chronic])
    wijken = reference_wijken().select("wijk_code", "deprivation_group", "deprivation")
    register_temp_table(conn, "model_codes", codes)
    register_temp_table(conn, "model_wijken", wijken)


def _examples(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    outcome: Outcome,
    work: pl.DataFrame,
    *,
    with_outcome: bool,
) -> pl.DataFrame:
    """The screening's own steps over `work` (score_work: population, flags, score), then the
    features (and the outcome) of everyone it screened."""
    scored = score_work(conn, profile, work)
    names = feature_names(profile)
    if not scored.people:
        return pl.DataFrame(
            schema={
                **{c: pl.String for c in DESCRIPTIVE},
                **{c: pl.Float64 for c in names},
                **({"outcome": pl.Boolean} if with_outcome else {}),
            }
        )
    # features.sql and outcome.sql read what score_work just wrote (population, scored)
    register_model_tables(conn, profile, outcome)
    run_sql(
        conn,
        "model/features",
        {"lookback_days": LOOKBACK_DAYS, "characteristic_ids": list(profile.characteristic_ids)},
    )
    statement = "SELECT f.* FROM model_features AS f"
    if with_outcome:
        run_sql(conn, "model/outcome", {"window_days": outcome.window_days})
        statement = (
            "SELECT f.*, o.outcome FROM model_features AS f "
            "JOIN model_outcomes AS o USING (practice_id, quarter, patient_id)"
        )
    frame = conn.sql(statement + " ORDER BY practice_id, quarter, patient_id").pl()
    flags = list(profile.characteristic_ids)
    return frame.with_columns(pl.col(flags).cast(pl.Int8), pl.col("reference_date").cast(pl.Date))


def training_examples(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    outcome: Outcome,
    window: TrainingWindow = TrainingWindow(),
) -> pl.DataFrame:
    """Every patient registered on each training reference date of every practice (see
    sql/model/work_training.sql), with the features at R and the observed outcome after R."""
    prepare_screening_store(conn, profile)
    run_sql(
        conn,
        "model/work_training",
        {
            "window_days": outcome.window_days,
            "reference_quarters": window.reference_quarters,
            "history_days": window.history_days,
        },
    )
    work = conn.table("screen_work").pl()
    return _examples(conn, profile, outcome, work, with_outcome=True)


def features_at(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    outcome: Outcome,
    *,
    practice_id: str | None = None,
    quarter: str,
    source_quarter: str | None = None,
    with_outcome: bool = False,
    practice_ids: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Features of every patient registered at the end of `quarter`, from the delivery of
    `source_quarter` (default: the quarter's own), of one practice or (practice_ids) of several in
    one pass. with_outcome adds the outcome after R as far as that delivery shows it (only
    meaningful for a delivery extracted after the window)."""
    if (practice_id is None) == (practice_ids is None):
        raise ValueError("features_at takes either practice_id or practice_ids")
    prepare_screening_store(conn, profile)
    run_sql(
        conn,
        "model/work_scoring",
        {
            "practice_ids": [practice_id] if practice_id is not None else list(practice_ids or []),
            "quarter": quarter,
            "source_quarter": source_quarter or quarter,
        },
    )
    work = conn.table("screen_work").pl()
    return _examples(conn, profile, outcome, work, with_outcome=with_outcome)
