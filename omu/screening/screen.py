"""Screen practices: flags, score and score history in DuckDB SQL, driven by a profile.

Python chooses which SQL runs: the plan (which quarters from which delivery), the population,
one file per criterion type the profile uses, the score, and the history write. All of it is
set-based over every patient, quarter and practice in the work at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from omu.file_writing import atomic_path
from omu.screening.profile import Profile
from omu.sql import fetch_one, query, register_temp_table, run_sql, run_sql_in_transaction


class ScreeningError(Exception):
    pass


# The work of a screening: which quarters, read from which delivery, on which reference date.
# The shape of temp table screen_work, which sql/screening/population.sql reads.
WORK_SCHEMA = pl.Schema(
    {
        "practice_id": pl.String,
        "quarter": pl.String,
        "source_quarter": pl.String,
        "backfilled": pl.Boolean,
        "reference_date": pl.Date,
    }
)


@dataclass(frozen=True)
class ScreeningPlan:
    """sql/screening/plan.sql's answer: every quarter to screen of the planned practices (plan,
    temp table screen_plan) and the part computed from the one delivery asked for (work)."""

    plan: pl.DataFrame
    work: pl.DataFrame

    @property
    def quarters(self) -> list[str]:
        return sorted(set(self.work["quarter"]))


@dataclass
class ScreenResult:
    quarters: list[str]
    rows: int
    over_threshold: int
    # per screened quarter: screened, over_threshold (what this run wrote, for the asset's metadata)
    per_quarter: pl.DataFrame = field(default_factory=pl.DataFrame)
    plan: ScreeningPlan | None = None


@dataclass(frozen=True)
class ScoredWork:
    """What score_work() computed, as the temp tables the SQL after it reads by name (the SQL
    files' contract). Read them before the next score_work on the same connection replaces them."""

    population: duckdb.DuckDBPyRelation  # population: who is screened on each reference date
    flags: duckdb.DuckDBPyRelation  # characteristic_flags: the (patient, characteristic) pairs that hold
    scored: duckdb.DuckDBPyRelation  # scored: the score_history rows of the work
    evidence: duckdb.DuckDBPyRelation  # criterion_evidence: the records behind each hit (keep_evidence)
    people: int  # rows of population


def screening_variables(profile: Profile) -> dict[str, Any]:
    """The profile as the screening SQL's variables (getvariable('profile_name') ...)."""
    return {
        "profile_name": profile.name,
        "profile_version": profile.version,
        "threshold": profile.threshold,
        "backfill_quarters": profile.backfill_quarters,
        "characteristic_ids": list(profile.characteristic_ids),
    }


def prepare_screening_store(conn: duckdb.DuckDBPyConnection, profile: Profile) -> None:
    """Score history, one boolean column per characteristic of the profile, and the screening view."""
    run_sql(conn, "common/quarters")
    run_sql(conn, "common/codes")
    run_sql(conn, "screening/schema")
    for characteristic_id in profile.characteristic_ids:  # ids are checked lower-case identifiers
        conn.execute(f'ALTER TABLE score_history ADD COLUMN IF NOT EXISTS "{characteristic_id}" BOOLEAN')
    run_sql(conn, "screening/view")


def register_profile(conn: duckdb.DuckDBPyConnection, profile: Profile) -> None:
    """The profile as data (temp tables profile_criteria, profile_characteristics, codelist_codes,
    profile_next_steps), for the SQL its caller runs next. Every function that runs SQL reading
    them registers them itself; its variables go with each SQL file run (screening_variables)."""
    for table, frame in (
        ("profile_criteria", profile.criteria_frame()),
        ("profile_characteristics", profile.characteristics_frame()),
        ("codelist_codes", profile.codelist_frame()),
        ("profile_next_steps", profile.next_steps_frame()),
    ):
        register_temp_table(conn, table, frame)


def screening_plan(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
    deliveries: Sequence[tuple[str, str]] | None = None,
) -> ScreeningPlan:
    """Every quarter to screen of the practice (all: None), from which delivery, and the part of
    it computed from the delivery of `source_quarter` (all of it: None). A batch instead:
    `deliveries` (practice, quarter) — the plan of their practices and the part computed from them."""
    prepare_screening_store(conn, profile)
    run_sql(conn, "screening/plan", {**screening_variables(profile), "practice_id": practice_id})
    plan = conn.sql("SELECT * FROM screen_plan ORDER BY practice_id, quarter").pl().cast(WORK_SCHEMA)
    if deliveries is not None:
        batch = pl.DataFrame(
            list(deliveries),
            schema={"practice_id": pl.String, "source_quarter": pl.String},
            orient="row",
        )
        plan = plan.join(batch.select("practice_id").unique(), on="practice_id", how="semi")
        return ScreeningPlan(plan, plan.join(batch, on=["practice_id", "source_quarter"], how="semi"))
    work = plan if source_quarter is None else plan.filter(pl.col("source_quarter") == source_quarter)
    return ScreeningPlan(plan, work)


def plan_work(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
) -> list[str]:
    """The quarters the delivery of (practice_id, source_quarter) screens (every delivery: None)."""
    return screening_plan(conn, profile, practice_id=practice_id, source_quarter=source_quarter).quarters


def score_work(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    work: pl.DataFrame,
    *,
    keep_evidence: bool = False,
    patient_ids: list[str] | None = None,
) -> ScoredWork:
    """The screening's steps over `work` (WORK_SCHEMA: practice, quarter, source delivery,
    reference date): the population registered on each reference date (only `patient_ids`
    when given), every criterion of the profile, the characteristics that hold and the score.
    One sequence for everything that screens: screen(), the evidence (lists, omu explain) and
    the risk model's features. keep_evidence: also the records behind each hit."""
    register_profile(conn, profile)
    register_temp_table(conn, "screen_work", work.select(list(WORK_SCHEMA)).cast(WORK_SCHEMA))
    run_sql(conn, "screening/population")
    if patient_ids is not None:
        register_temp_table(
            conn,
            "screen_patients",
            pl.DataFrame({"patient_id": patient_ids}, schema={"patient_id": pl.String}),
        )
        conn.execute(
            "DELETE FROM population WHERE patient_id NOT IN (SELECT patient_id FROM screen_patients)"
        )
    types = profile.criterion_types
    # one SQL file per criterion type; either_of last, from its criteria's hits
    for criterion_type in sorted(types - {"either_of"}) + sorted(types & {"either_of"}):
        run_sql(conn, f"screening/criteria/{criterion_type}")
        run_sql(conn, "screening/keep_evidence", {"keep_evidence": keep_evidence})
    run_sql(conn, "screening/score", screening_variables(profile))
    (people,) = fetch_one(conn, "SELECT count(*) FROM population") or (0,)
    return ScoredWork(
        population=conn.table("population"),
        flags=conn.table("characteristic_flags"),
        scored=conn.table("scored"),
        evidence=conn.table("criterion_evidence"),
        people=people,
    )


def screen(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
    deliveries: Sequence[tuple[str, str]] | None = None,
) -> ScreenResult:
    """Screen the planned quarters computed from one delivery (practice_id, source_quarter), from
    a batch of deliveries (`deliveries`: one pass over all of them), or from every delivery in
    force when all are None. Writes score_history in one transaction."""
    planned = screening_plan(
        conn, profile, practice_id=practice_id, source_quarter=source_quarter, deliveries=deliveries
    )
    register_temp_table(conn, "screen_work", planned.work)
    missing = conn.sql(
        "SELECT DISTINCT practice_id, source_quarter FROM screen_work w WHERE NOT EXISTS "
        "(SELECT 1 FROM patients p WHERE p.practice_id = w.practice_id AND p.quarter = w.source_quarter) "
        "ORDER BY ALL"
    ).fetchall()
    if missing:
        listed = ", ".join(f"{p} {q}" for p, q in missing)
        raise ScreeningError(
            f"no delivery rows in the store for {listed}: load the delivery first "
            "(or its raw rows were dropped by the retention setting)"
        )
    scored = score_work(conn, profile, planned.work)
    per_quarter = (
        scored.scored.aggregate(
            "quarter, count(*) AS screened, count(*) FILTER (WHERE over_threshold) AS over_threshold",
            "quarter",
        )
        .order("quarter")
        .pl()
    )
    # history.sql's inputs, set right before it: the plan, the work (score_work wrote scored) and the profile
    register_temp_table(conn, "screen_plan", planned.plan)
    register_temp_table(conn, "screen_work", planned.work)
    register_profile(conn, profile)
    run_sql_in_transaction(conn, "screening/history", screening_variables(profile))
    return ScreenResult(
        planned.quarters,
        int(per_quarter["screened"].sum()),
        int(per_quarter["over_threshold"].sum()),
        per_quarter,
        planned,
    )


def screening_evidence(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    quarter: str,
    patient_ids: list[str] | None = None,
    holding_only: bool = True,
    practice_ids: Sequence[str] | None = None,
    patients: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The records behind every characteristic that holds, for screened patients of one practice
    and quarter (all, or `patient_ids`): the criteria SQL of the screening itself, run again over
    those patients from the delivery their score came from, keeping what each hit counted.
    holding_only=False: also the hits of criteria whose characteristic does not hold (omu explain).
    Batch form, one pass over several practices of the quarter: `practice_ids` instead of
    `practice_id`, and `patients` (columns practice_id, patient_id; pseudonyms are unique only
    within a practice) instead of `patient_ids`."""
    if (practice_id is None) == (practice_ids is None):
        raise ValueError("screening_evidence takes either practice_id or practice_ids")
    if practice_id is not None and patients is not None:
        raise ValueError(
            "patients (practice_id, patient_id) go with practice_ids; one practice takes patient_ids"
        )
    if practice_ids is not None and patient_ids is not None:
        raise ValueError("practice_ids go with patients (practice_id, patient_id), not patient_ids")
    prepare_screening_store(conn, profile)
    practices = [practice_id] if practice_id is not None else list(practice_ids or [])
    work = (
        conn.sql(
            "SELECT DISTINCT practice_id, quarter, source_quarter, backfilled, reference_date FROM score_history "
            "WHERE list_contains(?, practice_id) AND quarter = ? AND profile_name = ? AND profile_version = ?",
            params=[practices, quarter, profile.name, profile.version],
        )
        .pl()
        .cast(WORK_SCHEMA)
    )
    if patients is not None:
        patients = patients.select(pl.col("practice_id", "patient_id").cast(pl.String))
        # score_work narrows by pseudonym alone; the keys below drop another practice's namesakes
        patient_ids = patients["patient_id"].unique().sort().to_list()
    scored = score_work(conn, profile, work, keep_evidence=True, patient_ids=patient_ids)
    evidence = scored.evidence
    if holding_only:
        keys = ["practice_id", "quarter", "patient_id", "characteristic"]
        evidence = evidence.join(scored.flags.select(*keys), keys, how="semi")
    if patients is not None:
        register_temp_table(conn, "evidence_patients", patients)
        evidence = evidence.join(conn.table("evidence_patients"), ["practice_id", "patient_id"], how="semi")
    return evidence.order(
        "practice_id, patient_id, characteristic, criterion_no, date DESC NULLS LAST, code"
    ).pl()


def screening_checks(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
    plan: ScreeningPlan | None = None,
) -> dict[str, pl.DataFrame]:
    """The rows breaking each rule of the screening of the quarters the delivery of (practice_id,
    source_quarter) screens (every delivery in force: None; or the `plan` the caller made, e.g.
    of a batch), as screen() took them; empty frames pass."""
    planned = plan or screening_plan(conn, profile, practice_id=practice_id, source_quarter=source_quarter)
    register_temp_table(conn, "screen_work", planned.work)
    register_profile(conn, profile)
    run_sql(conn, "screening/checks", screening_variables(profile))
    return {name: conn.table(f"check_{name}").pl() for name in ("screened_once", "score_sum", "first_time")}


def export_screening(
    conn: duckdb.DuckDBPyConnection, profile: Profile, practice_id: str, quarter: str, path: Path
) -> int:
    """Write one practice-quarter of the screening view to CSV; returns the rows written."""
    frame = query(
        conn,
        "screening/export",
        {
            "practice_id": practice_id,
            "quarter": quarter,
            "profile_name": profile.name,
            "profile_version": profile.version,
            "characteristic_ids": list(profile.characteristic_ids),
        },
    ).pl()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        frame.write_csv(temporary)
    return frame.height
