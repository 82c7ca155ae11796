"""Regional dashboards for Sterkzorg, per quarter (docs/dashboards.md).

`regional_indicators` counts in SQL (sql/dashboards/), protects the counts jointly (suppression,
rounding, an integer-programming audit; dashboards/disclosure.py), computes every other figure from
the published counts, stores only the published figures in table `indicators` (and every version in
`disclosure_ledger`), then writes out/<quarter>/region/indicators.csv and indicators.xlsx from that
table; each configured profile on its own (other profiles than omu-basis v1 in region/<name>-v<version>/).
`regional_dashboard` writes the offline page out/<quarter>/region/dashboard.html from the same
table, and refuses (removes) any file under region/ that holds a patient_id. The checks in
assets/checks.py read the stored indicators and the files back.

Both are partitioned by quarter (the same dynamic `quarters` partitions as the deliveries) and
depend on every practice's screening and outreach list of that quarter.
"""

import warnings
from pathlib import Path

import dagster as dg
import polars as pl

from omu import audit
from omu.assets.errors import values_withheld
from omu.assets.outreach import outreach_list
from omu.assets.screening import score_history
from omu.dashboards.indicators import (
    NotDelivered,
    person_count_columns,
    read_indicators,
)
from omu.dashboards.region import (
    patient_ids_in,
    refresh_indicators,
    write_dashboard_page,
    write_indicator_files,
)
from omu.pipelines.partitions import quarter_of, quarters
from omu.pipelines.resources import DuckDBStore, OmuSettings

with warnings.catch_warnings():  # beta in Dagster 1.13, and exactly what a quarter's region needs
    warnings.simplefilter("ignore", category=dg.BetaWarning)
    ALL_PRACTICES_OF_THE_QUARTER = dg.MultiToSingleDimensionPartitionMapping(
        partition_dimension_name="quarter"
    )


def _log_written(conn, context: dg.AssetExecutionContext, quarter: str, files: str) -> None:
    """No access log entry, no regional files."""
    try:
        audit.record(
            conn,
            "dashboard_written",
            quarter=quarter,
            patients=audit.patients_screened(conn, quarter),
            dagster_run_id=context.run.run_id,
            detail=files,
        )
    except audit.AuditError as error:
        raise dg.Failure(
            str(error), allow_retries=False
        ) from None  # an unwritable log needs a person, not a retry


@dg.asset(
    partitions_def=quarters,
    deps=[
        dg.AssetDep(score_history, partition_mapping=ALL_PRACTICES_OF_THE_QUARTER),
        dg.AssetDep(outreach_list, partition_mapping=ALL_PRACTICES_OF_THE_QUARTER),
    ],
    group_name="region",
    kinds={"duckdb", "excel", "csv"},
)
@values_withheld
def regional_indicators(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Indicators per wijk, practice and region for every delivered quarter up to this one,
    suppressed, in table `indicators` and out/<quarter>/region/indicators.csv/.xlsx."""
    quarter = quarter_of(context)
    home = omu.omu_home()
    metadata: dict = {}
    for number, profile in enumerate(omu.screening_profiles()):  # each profile's figures on their own
        with store.connect() as conn:
            if number == 0:
                _log_written(conn, context, quarter, "indicators.csv, indicators.xlsx")
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
        prefix = "" if number == 0 else f"{profile.key}: "
        metadata |= {
            f"{prefix}profile": f"{profile.name} v{profile.version}",
            f"{prefix}quarters": ", ".join(sorted(set(wide.get_column("quarter").to_list()))),
            f"{prefix}areas": current.height,
            f"{prefix}practices": int(region[0]["practices"]) if region else 0,
            f"{prefix}person_counts_hidden": f"{hidden} of {cells}",
            f"{prefix}files": dg.MetadataValue.json({name: str(path) for name, path in files.items()}),
        }
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=quarters,
    deps=[regional_indicators],
    group_name="region",
    kinds={"html", "plotly"},
)
@values_withheld
def regional_dashboard(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """The offline Dutch dashboard out/<quarter>/region/dashboard.html (plotly inlined)."""
    quarter = quarter_of(context)
    home = omu.omu_home()
    metadata: dict = {}
    leaks: dict = {}
    for number, profile in enumerate(omu.screening_profiles()):
        with store.connect() as conn:
            if number == 0:
                _log_written(conn, context, quarter, "dashboard.html")
            outputs = write_dashboard_page(conn, home, profile, quarter)
            patient_ids = [
                p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()
            ]
        leaks |= patient_ids_in(outputs.folder, patient_ids)
        prefix = "" if number == 0 else f"{profile.key}: "
        metadata |= {
            f"{prefix}dashboard": dg.MetadataValue.path(str(outputs.files["dashboard.html"])),
            f"{prefix}quarters_in_trend": ", ".join(outputs.quarters),
            f"{prefix}highest_age_standardised_wijk": outputs.highest_wijk or "none shown",
            f"{prefix}practices_outside_99_8": ", ".join(outputs.outside_998) or "none",
        }
    if leaks:  # never leave a file with a patient_id where aggregates only belong
        for path in leaks:
            Path(path).unlink(missing_ok=True)
        raise dg.Failure(
            f"patient_ids found in {len(leaks)} file(s) under {outputs.folder}; removed them",
            metadata={"files": dg.MetadataValue.json(sorted(leaks))},
            allow_retries=False,
        )
    return dg.MaterializeResult(metadata=metadata)
