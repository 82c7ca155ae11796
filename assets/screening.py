"""Screening: risk flags and score per patient into the score history, then first-time crossers.

`score_history` runs the profile's SQL (sql/screening/) for the quarters this delivery screens —
its own quarter, plus the backfill quarters when it is the practice's first delivery — and
replaces them in the history. `first_time_crossers` reads the derived `screening` view (first
time over the threshold; baseline) and writes each screened quarter to
out/<quarter>/practices/<practice_id>/screening.csv (other profiles than omu-basis v1: to
the sub-folder <name>-v<version>/). Every profile configured runs side by side.
"""

import dagster as dg
import polars as pl

from omu.assets.errors import values_withheld
from omu.assets.ingest import RAW_TABLES
from omu.markdown import markdown_table
from omu.pipelines.partitions import practice_and_quarter, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.screening.screen import export_screening, plan_work, screen


@dg.asset(
    partitions_def=practice_quarter,
    deps=list(RAW_TABLES),
    group_name="screening",
    kinds={"duckdb"},
)
@values_withheld
def score_history(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Risk flags and score per registered patient for the quarters this delivery screens (with
    backfill on a practice's first delivery), kept per profile version in table score_history;
    every configured profile side by side."""
    practice_id, quarter = practice_and_quarter(context)
    metadata: dict = {}
    with store.connect() as conn:
        for profile in omu.screening_profiles():
            result = screen(conn, profile, practice_id=practice_id, source_quarter=quarter)
            prefix = "" if not metadata else f"{profile.key}: "
            metadata |= {
                f"{prefix}profile": f"{profile.name} v{profile.version}",
                f"{prefix}quarters_screened": ", ".join(result.quarters),
                f"{prefix}patients_screened": result.rows,
                f"{prefix}over_threshold": result.over_threshold,
                f"{prefix}per_quarter": dg.MetadataValue.md(markdown_table(result.per_quarter)),
            }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=practice_quarter,
    deps=[score_history],
    group_name="screening",
    kinds={"duckdb", "csv"},
)
@values_withheld
def first_time_crossers(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """First-time crossers and the baseline (view `screening`), written per screened quarter and
    profile to out/<quarter>/practices/<practice_id>/[<profile>/]screening.csv."""
    practice_id, quarter = practice_and_quarter(context)
    home = omu.omu_home()
    metadata: dict = {}
    with store.connect() as conn:
        for profile in omu.screening_profiles():
            written = {}
            for screened_quarter in plan_work(conn, profile, practice_id=practice_id, source_quarter=quarter):
                path = (
                    home.practice_out(screened_quarter, practice_id, profile.output_folder) / "screening.csv"
                )
                written[screened_quarter] = export_screening(
                    conn, profile, practice_id, screened_quarter, path
                )
            counts = conn.sql(
                "SELECT quarter, count(*) FILTER (WHERE first_time) AS first_time, "
                "count(*) FILTER (WHERE baseline) AS baseline FROM screening "
                "WHERE practice_id = ? AND profile_name = ? AND profile_version = ? GROUP BY quarter ORDER BY quarter",
                params=[practice_id, profile.name, profile.version],
            ).pl()
            this_quarter = counts.filter(pl.col("quarter") == quarter)
            prefix = "" if not metadata else f"{profile.key}: "
            metadata |= {
                f"{prefix}screening_csv_rows": dg.MetadataValue.json(written),
                f"{prefix}first_time_crossers": int(this_quarter["first_time"].sum())
                if this_quarter.height
                else 0,
                f"{prefix}baseline": int(this_quarter["baseline"].sum()) if this_quarter.height else 0,
                f"{prefix}history": dg.MetadataValue.md(markdown_table(counts)),
                f"{prefix}screening_csv": dg.MetadataValue.path(
                    str(home.practice_out(quarter, practice_id, profile.output_folder) / "screening.csv")
                ),
            }
    return dg.MaterializeResult(metadata=metadata)
