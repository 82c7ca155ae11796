"""Ingest: one HIS delivery (practice x quarter) into the store's raw tables.

The multi-asset reads, checks and stages the delivery outside the store lock (omu/ingest/),
then loads it in one transaction: the raw tables, the quarantine and the deliveries log change
together or not at all. A refused delivery fails the run with its reasons and loads nothing.
SQL: sql/ingest/. Its checks (assets/checks.py) count and validate the stored rows again.
"""

import dagster as dg
import polars as pl

from omu import audit
from omu.assets.errors import values_withheld
from omu.config import load_config
from omu.contract import FILES
from omu.ingest.load import IngestOutcome, ingest_delivery
from omu.ingest.manifest import read_manifest
from omu.markdown import markdown_table
from omu.pipelines.partitions import practice_and_quarter, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.sql import fetch_dicts

RAW_TABLES = tuple(file.table for file in FILES)
FILES_BY_TABLE = {file.table: file for file in FILES}

INGEST_SPECS = [
    dg.AssetSpec(file.table, description=file.description, group_name="ingest", kinds={"duckdb"})
    for file in FILES
] + [
    dg.AssetSpec(
        "quarantine",
        description="Rows kept aside per delivery: file, line, column, value, reason.",
        group_name="ingest",
        kinds={"duckdb"},
    ),
    dg.AssetSpec(
        "deliveries",
        description="Every delivery received, loaded or refused, with row accounting.",
        group_name="ingest",
        kinds={"duckdb"},
    ),
]


def _profile_sql(file) -> str:
    """Aggregates of one loaded table: rows, distinct patients, and per column its nulls, distinct
    values and (dates) range. Never a value of a patient: no preview rows, no min/max of an identifier
    or birth year."""
    parts = ["count(*) AS rows", "count(DISTINCT patient_id) AS patients"]
    for column in file.columns:
        if column.name == "patient_id":
            continue
        parts += [
            f'count(*) - count("{column.name}") AS "{column.name}.nulls"',
            f'count(DISTINCT "{column.name}") AS "{column.name}.distinct"',
        ]
        if column.kind == "date":
            parts += [
                f'min("{column.name}")::VARCHAR AS "{column.name}.from"',
                f'max("{column.name}")::VARCHAR AS "{column.name}.until"',
            ]
    return f"SELECT {', '.join(parts)} FROM {file.table} WHERE practice_id = ? AND quarter = ?"


def _column_profile(file, totals: dict) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "column": column.name,
                "nulls": totals[f"{column.name}.nulls"],
                "distinct": totals[f"{column.name}.distinct"],
                "range": (
                    f"{totals[f'{column.name}.from']} .. {totals[f'{column.name}.until']}"
                    if column.kind == "date" and totals[f"{column.name}.from"]
                    else ""
                ),
            }
            for column in file.columns
            if column.name != "patient_id"
        ]
    )


def _delivery_in_force(store: DuckDBStore, practice_id: str, quarter: str) -> tuple[dict, dict[str, dict]]:
    """The deliveries row in force, and the aggregate profile of each loaded table."""
    with store.connect() as conn:
        rows = fetch_dicts(
            conn,
            "SELECT * FROM current_deliveries WHERE practice_id = ? AND quarter = ?",
            [practice_id, quarter],
        )
        profiles = {
            file.table: fetch_dicts(conn, _profile_sql(file), [practice_id, quarter])[0] for file in FILES
        }
    return (rows[0] if rows else {}), profiles


@dg.multi_asset(
    name="ingest_delivery",
    specs=INGEST_SPECS,
    partitions_def=practice_quarter,
    can_subset=False,
    description=__doc__,
)
@values_withheld
def ingest_delivery_asset(context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore):
    practice_id, quarter = practice_and_quarter(context)
    home = omu.omu_home()
    retention = load_config(home.config_file).retention or omu.retention
    delivery_dir = omu.delivery_dir(practice_id, quarter)
    manifest, _ = read_manifest(delivery_dir)  # its problems are the ingest's to report
    patients = manifest.rows("patients.csv") if manifest else None
    with store.connect() as conn:  # no access log entry, no run
        try:
            audit.record(
                conn,
                "run",
                practice_id=practice_id,
                quarter=quarter,
                patients=patients if isinstance(patients, int) and patients >= 0 else None,
                dagster_run_id=context.run.run_id,
                detail=f"{context.job_name}: ingest and screening",
            )
        except audit.AuditError as error:
            raise dg.Failure(
                str(error), allow_retries=False
            ) from None  # an unwritable log needs a person, not a retry
    outcome: IngestOutcome = ingest_delivery(home, delivery_dir, retention=retention, connect=store.connect)
    if outcome.status == "refused":
        assert outcome.outputs is not None  # a refused delivery still has its report
        raise dg.Failure(
            description=outcome.reason,
            metadata={"status": "refused", "report": dg.MetadataValue.path(str(outcome.outputs["report"]))},
            allow_retries=False,  # a refused delivery stays refused until it is delivered again
        )
    context.log.info(f"{practice_id} {quarter}: delivery {outcome.status}")
    row, profiles = _delivery_in_force(store, practice_id, quarter)
    for table in RAW_TABLES:
        in_manifest = row.get(f"{table}_rows_manifest")
        loaded = row.get(f"{table}_rows_loaded") or 0
        quarantined = row.get(f"{table}_rows_quarantined") or 0
        yield dg.MaterializeResult(
            asset_key=table,
            metadata={
                "status": outcome.status,
                "rows_in_manifest": in_manifest if in_manifest is not None else "file not delivered",
                "rows_loaded": loaded,
                "rows_quarantined": quarantined,
                "manifest_sha256": row.get("manifest_sha256", ""),
                "distinct_patients": profiles[table]["patients"],
                "profile": dg.MetadataValue.md(
                    markdown_table(_column_profile(FILES_BY_TABLE[table], profiles[table]))
                ),
            },
        )
    reasons = (
        outcome.check.quarantine_by_reason()
        if outcome.check is not None
        else pl.DataFrame({"note": ["delivery unchanged since it was loaded"]})
    )
    yield dg.MaterializeResult(
        asset_key="quarantine",
        metadata={
            "rows_quarantined": sum(row.get(f"{t}_rows_quarantined") or 0 for t in RAW_TABLES),
            "reasons": dg.MetadataValue.md(markdown_table(reasons)),
            "quarantine_csv": dg.MetadataValue.path(
                str(home.delivery_out(quarter, practice_id) / "quarantine.csv")
            ),
        },
    )
    yield dg.MaterializeResult(
        asset_key="deliveries",
        metadata={
            "status": outcome.status,
            "received_at": str(row.get("received_at", "")),
            "report": dg.MetadataValue.path(str(home.delivery_out(quarter, practice_id) / "report.md")),
        },
    )
