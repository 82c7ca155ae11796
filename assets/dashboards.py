"""Regional dashboards for Sterkzorg, per quarter (docs/dashboards.md).

`regional_indicators` counts in SQL (sql/dashboards/), protects the counts jointly (suppression,
rounding, an integer-programming audit; dashboards/disclosure.py), computes every other figure from
the published counts, stores only the published figures in table `indicators` (and every version in
`disclosure_ledger`), then writes out/<quarter>/region/indicators.csv and indicators.xlsx from that
table; each configured profile on its own (other profiles than omu-basis v1 in region/<name>-v<version>/).
`regional_dashboard` writes the offline page out/<quarter>/region/dashboard.html from the same
table, and checks that no patient_id appears anywhere under region/.

Both are partitioned by quarter (the same dynamic `quarters` partitions as the deliveries) and
depend on every practice's screening and outreach list of that quarter.
"""

import warnings
from pathlib import Path

import dagster as dg
import polars as pl

from assets.errors import values_withheld
from assets.outreach import outreach_list
from assets.screening import score_history
from dashboards.indicators import (
    NotDelivered,
    derived_violations,
    ledger_violations,
    person_count_columns,
    read_indicators,
)
from dashboards.region import patient_ids_in, refresh_indicators, write_dashboard_page, write_indicator_files
from dashboards.suppression import PRIMARY_MAX, PRIMARY_MIN, ROUNDING_BASE
from omu import audit
from pipelines.partitions import quarters
from pipelines.resources import DuckDBStore, OmuSettings

with warnings.catch_warnings():  # beta in Dagster 1.13, and exactly what a quarter's region needs
    warnings.simplefilter("ignore", category=dg.BetaWarning)
    ALL_PRACTICES_OF_THE_QUARTER = dg.MultiToSingleDimensionPartitionMapping(
        partition_dimension_name="quarter"
    )


def _shown_small_counts(wide: pl.DataFrame, columns: list[str]) -> int:
    """Person counts that break the rule: 1-7 shown, or not a multiple of the rounding base."""
    bad = 0
    for column in columns:
        values = wide.get_column(column).drop_nulls()
        bad += int(
            ((values >= PRIMARY_MIN) & (values <= PRIMARY_MAX)).sum() + (values % ROUNDING_BASE != 0).sum()
        )
    return bad


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
    check_specs=[
        dg.AssetCheckSpec(
            "no_small_counts_shown",
            asset="regional_indicators",
            description="no stored person count is 1-7 and every one is a multiple of 5",
        ),
        dg.AssetCheckSpec(
            "figures_from_published_counts",
            asset="regional_indicators",
            description="every stored percentage, rate and interval is computed from the published "
            "(rounded) counts, never from exact ones",
        ),
        dg.AssetCheckSpec(
            "disclosure_audit_passes",
            asset="regional_indicators",
            description="stored counts are the newest disclosure-ledger version, hidden once stays "
            "hidden, and an integer-programming audit of every version pins no count "
            "and confines none to 1-7",
        ),
    ],
)
@values_withheld
def regional_indicators(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Indicators per wijk, practice and region for every delivered quarter up to this one,
    suppressed, in table `indicators` and out/<quarter>/region/indicators.csv/.xlsx."""
    quarter = context.partition_key
    home = omu.omu_home()
    metadata: dict = {}
    violations = 0
    derived_problems: list[str] = []
    ledger_problems: list[str] = []
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
            ledger_problems += ledger_violations(conn, profile, quarter, wide)
        derived_problems += derived_violations(wide, profile)
        current = wide.filter(pl.col("quarter") == quarter)
        counts = person_count_columns(profile)
        cells = current.height * len(counts)
        hidden = sum(current.get_column(c).null_count() for c in counts)
        region = current.filter(pl.col("level") == "regio").to_dicts()
        violations += _shown_small_counts(wide, counts)
        prefix = "" if number == 0 else f"{profile.key}: "
        metadata |= {
            f"{prefix}profile": f"{profile.name} v{profile.version}",
            f"{prefix}quarters": ", ".join(sorted(set(wide.get_column("quarter").to_list()))),
            f"{prefix}areas": current.height,
            f"{prefix}practices": int(region[0]["practices"]) if region else 0,
            f"{prefix}person_counts_hidden": f"{hidden} of {cells}",
            f"{prefix}files": dg.MetadataValue.json({name: str(path) for name, path in files.items()}),
        }
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="no_small_counts_shown",
                passed=violations == 0,
                metadata={"violations": violations},
            ),
            # the messages name areas and indicators only (aggregates), never a person
            dg.AssetCheckResult(
                check_name="figures_from_published_counts",
                passed=not derived_problems,
                metadata={
                    "violations": len(derived_problems),
                    "first": "; ".join(derived_problems[:5]) or "none",
                },
            ),
            dg.AssetCheckResult(
                check_name="disclosure_audit_passes",
                passed=not ledger_problems,
                metadata={
                    "violations": len(ledger_problems),
                    "first": "; ".join(ledger_problems[:5]) or "none",
                },
            ),
        ],
    )


@dg.asset(
    partitions_def=quarters,
    deps=[regional_indicators],
    group_name="region",
    kinds={"html", "plotly"},
    check_specs=[
        dg.AssetCheckSpec(
            "no_patient_id_under_region",
            asset="regional_dashboard",
            description="no patient_id of the store appears in any file under region/",
        ),
    ],
)
@values_withheld
def regional_dashboard(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """The offline Dutch dashboard out/<quarter>/region/dashboard.html (plotly inlined)."""
    quarter = context.partition_key
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
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=[
            dg.AssetCheckResult(
                check_name="no_patient_id_under_region",
                passed=not leaks,
                metadata={"files_with_patient_ids": len(leaks)},
            ),
        ],
    )
