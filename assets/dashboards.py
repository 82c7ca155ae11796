"""Regional dashboards for Sterkzorg, per quarter (issue 7; docs/dashboards.md).

`regional_indicators` counts in SQL (sql/dashboards/), adds the statistics, suppresses small
numbers once for the whole table and stores only the suppressed figures in table `indicators`,
then writes out/<quarter>/region/indicators.csv and indicators.xlsx from that table.
`regional_dashboard` writes the offline page out/<quarter>/region/dashboard.html from the same
table, and checks that no patient_id appears anywhere under region/.

Both are partitioned by quarter (the same dynamic `quarters` partitions as the deliveries) and
depend on every practice's screening and outreach list of that quarter.
"""

import warnings
from pathlib import Path

import dagster as dg
import polars as pl

from assets.outreach import outreach_list
from assets.screening import score_history
from dashboards.indicators import NotDelivered, person_count_columns, read_indicators
from dashboards.region import patient_ids_in, refresh_indicators, write_dashboard_page, write_indicator_files
from dashboards.suppression import PRIMARY_MAX, PRIMARY_MIN, ROUNDING_BASE
from pipelines.partitions import quarters
from pipelines.resources import DuckDBStore, OmuSettings

with warnings.catch_warnings():  # beta in Dagster 1.13, and exactly what a quarter's region needs
    warnings.simplefilter("ignore", category=dg.BetaWarning)
    ALL_PRACTICES_OF_THE_QUARTER = dg.MultiToSingleDimensionPartitionMapping(partition_dimension_name="quarter")


def _shown_small_counts(wide: pl.DataFrame, columns: list[str]) -> int:
    """Person counts that break the rule: 1-7 shown, or not a multiple of the rounding base."""
    bad = 0
    for column in columns:
        values = wide.get_column(column).drop_nulls()
        bad += int(((values >= PRIMARY_MIN) & (values <= PRIMARY_MAX)).sum() + (values % ROUNDING_BASE != 0).sum())
    return bad


@dg.asset(
    partitions_def=quarters,
    deps=[dg.AssetDep(score_history, partition_mapping=ALL_PRACTICES_OF_THE_QUARTER),
          dg.AssetDep(outreach_list, partition_mapping=ALL_PRACTICES_OF_THE_QUARTER)],
    group_name="region",
    kinds={"duckdb", "excel", "csv"},
    check_specs=[
        dg.AssetCheckSpec("no_small_counts_shown", asset="regional_indicators",
                          description="no stored person count is 1-7 and every one is a multiple of 5"),
    ],
)
def regional_indicators(context: dg.AssetExecutionContext, omu: OmuSettings,
                        store: DuckDBStore) -> dg.MaterializeResult:
    """Indicators per wijk, practice and region for every delivered quarter up to this one,
    suppressed, in table `indicators` and out/<quarter>/region/indicators.csv/.xlsx."""
    quarter = context.partition_key
    profile = omu.screening_profile()
    home = omu.omu_home()
    with store.connect() as conn:
        try:
            refresh_indicators(conn, profile, quarter)
        except NotDelivered as error:
            raise dg.Failure(str(error), allow_retries=False) from error
        files = write_indicator_files(conn, home, profile, quarter)
        wide = read_indicators(conn, profile, quarter)
    current = wide.filter(pl.col("quarter") == quarter)
    counts = person_count_columns(profile)
    cells = current.height * len(counts)
    hidden = sum(current.get_column(c).null_count() for c in counts)
    region = current.filter(pl.col("level") == "regio").to_dicts()
    return dg.MaterializeResult(
        metadata={
            "profile": f"{profile.name} v{profile.version}",
            "quarters": ", ".join(sorted(set(wide.get_column("quarter").to_list()))),
            "areas": current.height,
            "practices": int(region[0]["practices"]) if region else 0,
            "person_counts_hidden": f"{hidden} of {cells}",
            "files": dg.MetadataValue.json({name: str(path) for name, path in files.items()}),
        },
        check_results=[
            dg.AssetCheckResult(check_name="no_small_counts_shown",
                                passed=_shown_small_counts(wide, counts) == 0,
                                metadata={"violations": _shown_small_counts(wide, counts)}),
        ],
    )


@dg.asset(
    partitions_def=quarters,
    deps=[regional_indicators],
    group_name="region",
    kinds={"html", "plotly"},
    check_specs=[
        dg.AssetCheckSpec("no_patient_id_under_region", asset="regional_dashboard",
                          description="no patient_id of the store appears in any file under region/"),
    ],
)
def regional_dashboard(context: dg.AssetExecutionContext, omu: OmuSettings,
                       store: DuckDBStore) -> dg.MaterializeResult:
    """The offline Dutch dashboard out/<quarter>/region/dashboard.html (plotly inlined)."""
    quarter = context.partition_key
    profile = omu.screening_profile()
    home = omu.omu_home()
    with store.connect() as conn:
        outputs = write_dashboard_page(conn, home, profile, quarter)
        patient_ids = [p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()]
    leaks = patient_ids_in(outputs.folder, patient_ids)
    if leaks:  # never leave a file with a patient_id where aggregates only belong
        for path in leaks:
            Path(path).unlink(missing_ok=True)
        raise dg.Failure(f"patient_ids found in {len(leaks)} file(s) under {outputs.folder}; removed them",
                         metadata={"files": dg.MetadataValue.json(sorted(leaks))}, allow_retries=False)
    return dg.MaterializeResult(
        metadata={
            "dashboard": dg.MetadataValue.path(str(outputs.files["dashboard.html"])),
            "quarters_in_trend": ", ".join(outputs.quarters),
            "highest_age_standardised_wijk": outputs.highest_wijk or "none shown",
            "practices_outside_99_8": ", ".join(outputs.outside_998) or "none",
        },
        check_results=[
            dg.AssetCheckResult(check_name="no_patient_id_under_region", passed=not leaks,
                                metadata={"files_with_patient_ids": len(leaks)}),
        ],
    )
