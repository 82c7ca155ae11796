"""Screening: risk flags and score per patient into the score history, then first-time crossers.

`score_history` runs the profile's SQL (sql/screening/) for the quarters the run's deliveries
screen — each delivery's own quarter, plus the backfill quarters of a practice's first delivery —
in one pass over the whole batch, and replaces them in the history. `first_time_crossers` reads the derived `screening` view (first
time over the threshold; baseline) and writes each screened quarter to
out/<quarter>/practices/<practice_id>/screening.csv (other profiles than omu-basis v1: to
the sub-folder <name>-v<version>/). Every profile configured runs side by side.
"""

import dagster as dg
import polars as pl

from omu.assets.errors import values_withheld
from omu.assets.ingest import RAW_TABLES
from omu.markdown import markdown_table
from omu.pipelines.partitions import batch_label, deliveries_of, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.screening.screen import export_screening, screen, screening_plan


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
    """Risk flags and score per registered patient for the quarters the run's deliveries screen
    (with backfill on a practice's first delivery), one SQL pass over the batch, kept per profile
    version in table score_history; every configured profile side by side."""
    deliveries = deliveries_of(context)
    metadata: dict = {"deliveries": batch_label(deliveries)}
    with store.connect() as conn:
        for number, profile in enumerate(omu.screening_profiles()):
            result = screen(conn, profile, deliveries=deliveries)
            prefix = "" if number == 0 else f"{profile.key}: "
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
    """First-time crossers and the baseline (view `screening`), written per delivery, screened
    quarter and profile to out/<quarter>/practices/<practice_id>/[<profile>/]screening.csv."""
    deliveries = deliveries_of(context)
    home = omu.omu_home()
    metadata: dict = {"deliveries": batch_label(deliveries)}
    practices = sorted({practice_id for practice_id, _ in deliveries})
    with store.connect() as conn:
        for number, profile in enumerate(omu.screening_profiles()):
            plan = screening_plan(conn, profile, deliveries=deliveries).work
            written = 0
            for practice_id, screened_quarter in plan.select("practice_id", "quarter").iter_rows():
                path = (
                    home.practice_out(screened_quarter, practice_id, profile.output_folder) / "screening.csv"
                )
                written += export_screening(conn, profile, practice_id, screened_quarter, path)
            counts = conn.sql(
                "SELECT quarter, count(*) FILTER (WHERE first_time) AS first_time, "
                "count(*) FILTER (WHERE baseline) AS baseline FROM screening "
                "WHERE practice_id IN (SELECT unnest($practices)) AND profile_name = $name "
                "AND profile_version = $version GROUP BY quarter ORDER BY quarter",
                params={"practices": practices, "name": profile.name, "version": profile.version},
            ).pl()
            delivered = counts.filter(pl.col("quarter").is_in([quarter for _, quarter in deliveries]))
            prefix = "" if number == 0 else f"{profile.key}: "
            metadata |= {
                f"{prefix}screening_csv_files": plan.height,
                f"{prefix}screening_csv_rows": written,
                f"{prefix}first_time_crossers": int(delivered["first_time"].sum()) if delivered.height else 0,
                f"{prefix}baseline": int(delivered["baseline"].sum()) if delivered.height else 0,
                f"{prefix}history": dg.MetadataValue.md(markdown_table(counts)),
            }
            if len(deliveries) == 1:
                practice_id, quarter = deliveries[0]
                metadata[f"{prefix}screening_csv"] = dg.MetadataValue.path(
                    str(home.practice_out(quarter, practice_id, profile.output_folder) / "screening.csv")
                )
    return dg.MaterializeResult(metadata=metadata)
