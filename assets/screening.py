"""Screening: risk flags and score per patient into the score history, then first-time crossers.

`score_history` runs the profile's SQL (sql/screening/) for the quarters this delivery screens —
its own quarter, plus the backfill quarters when it is the practice's first delivery — and
replaces them in the history. `first_time_crossers` reads the derived `screening` view (first
time over the threshold; baseline) and writes each screened quarter to
out/<quarter>/practices/<practice_id>/screening.csv.
"""


import dagster as dg
import polars as pl

from assets.errors import values_withheld
from assets.ingest import RAW_TABLES
from omu.markdown import markdown_table
from omu.screening.screen import export_screening, plan_work, screen, screening_checks
from pipelines.partitions import practice_and_quarter, practice_quarter
from pipelines.resources import DuckDBStore, OmuSettings


@dg.asset(
    partitions_def=practice_quarter,
    deps=list(RAW_TABLES),
    group_name="screening",
    kinds={"duckdb"},
    check_specs=[
        dg.AssetCheckSpec("every_registered_patient_screened_once", asset="score_history",
                          description="each patient registered on the reference date has exactly one row"),
        dg.AssetCheckSpec("score_is_weighted_sum_of_flags", asset="score_history",
                          description="score = sum of the weights of the scored characteristics that hold"),
    ],
)
@values_withheld
def score_history(context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore) -> dg.MaterializeResult:
    """Risk flags and score per registered patient for the quarters this delivery screens (with
    backfill on a practice's first delivery), kept per profile version in table score_history."""
    practice_id, quarter = practice_and_quarter(context)
    profile = omu.screening_profile()
    with store.connect() as conn:
        result = screen(conn, profile, practice_id=practice_id, source_quarter=quarter)
        problems = screening_checks(conn, profile)
        per_quarter = conn.sql(
            "SELECT quarter, count(*) AS screened, count(*) FILTER (WHERE over_threshold) AS over_threshold "
            "FROM scored GROUP BY quarter ORDER BY quarter"
        ).pl()
    return dg.MaterializeResult(
        metadata={
            "profile": f"{profile.name} v{profile.version}",
            "quarters_screened": ", ".join(result.quarters),
            "patients_screened": result.rows,
            "over_threshold": result.over_threshold,
            "per_quarter": dg.MetadataValue.md(markdown_table(per_quarter)),
        },
        check_results=[
            dg.AssetCheckResult(check_name="every_registered_patient_screened_once",
                                passed=problems["screened_once"].is_empty(),
                                metadata={"quarters_off": problems["screened_once"].height}),
            dg.AssetCheckResult(check_name="score_is_weighted_sum_of_flags",
                                passed=problems["score_sum"].is_empty(),
                                metadata={"patients_off": problems["score_sum"].height}),
        ],
    )


@dg.asset(
    partitions_def=practice_quarter,
    deps=[score_history],
    group_name="screening",
    kinds={"duckdb", "csv"},
    check_specs=[
        dg.AssetCheckSpec("no_first_time_crosser_was_over_before", asset="first_time_crossers",
                          description="a first-time crosser was below the threshold in every earlier quarter"),
    ],
)
@values_withheld
def first_time_crossers(context: dg.AssetExecutionContext, omu: OmuSettings,
                        store: DuckDBStore) -> dg.MaterializeResult:
    """First-time crossers and the baseline (view `screening`), written per screened quarter to
    out/<quarter>/practices/<practice_id>/screening.csv."""
    practice_id, quarter = practice_and_quarter(context)
    profile = omu.screening_profile()
    home = omu.omu_home()
    with store.connect() as conn:
        written = {}
        for screened_quarter in plan_work(conn, profile, practice_id=practice_id, source_quarter=quarter):
            path = home.practice_out(screened_quarter, practice_id) / "screening.csv"
            written[screened_quarter] = export_screening(conn, profile, practice_id, screened_quarter, path)
        counts = conn.sql(
            "SELECT quarter, count(*) FILTER (WHERE first_time) AS first_time, "
            "count(*) FILTER (WHERE baseline) AS baseline FROM screening "
            "WHERE practice_id = getvariable('practice_id') AND profile_name = getvariable('profile_name') "
            "AND profile_version = getvariable('profile_version') GROUP BY quarter ORDER BY quarter"
        ).pl()
        problems = screening_checks(conn, profile)["first_time"]
    this_quarter = counts.filter(pl.col("quarter") == quarter)
    return dg.MaterializeResult(
        metadata={
            "screening_csv_rows": dg.MetadataValue.json(written),
            "first_time_crossers": int(this_quarter["first_time"].sum()) if this_quarter.height else 0,
            "baseline": int(this_quarter["baseline"].sum()) if this_quarter.height else 0,
            "history": dg.MetadataValue.md(markdown_table(counts)),
            "screening_csv": dg.MetadataValue.path(str(home.practice_out(quarter, practice_id) / "screening.csv")),
        },
        check_results=[
            dg.AssetCheckResult(check_name="no_first_time_crosser_was_over_before", passed=problems.is_empty(),
                                metadata={"violations": problems.height}),
        ],
    )
