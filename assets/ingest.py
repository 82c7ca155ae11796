"""Ingest: the run's HIS deliveries (practice x quarter; one, or a batch) into the store's raw tables.

The multi-asset reads, checks and stages each delivery outside the store lock (omu/ingest/),
validates the batch with the contract's suites once, then loads each delivery in one transaction:
its raw tables, quarantine and deliveries log row change together or not at all. A refused
delivery loads nothing; the others of its batch load, and the run then fails naming the refused
ones (tag `omu/refused`), so the chain screens the rest in a run of their own.
SQL: sql/ingest/. Its checks (assets/checks.py) count and validate the stored rows again.
"""

import dagster as dg
import polars as pl

from omu import audit
from omu.assets.errors import values_withheld
from omu.config import load_config
from omu.contract import FILES
from omu.ingest.load import IngestOutcome, ingest_deliveries
from omu.ingest.manifest import read_manifest
from omu.markdown import markdown_table
from omu.pipelines.partitions import batch_label, deliveries_of, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.sql import fetch_dicts, register_temp_table

RAW_TABLES = tuple(file.table for file in FILES)
FILES_BY_TABLE = {file.table: file for file in FILES}
REFUSED_TAG = "omu/refused"  # set on a batch run that refused deliveries: 'P0001|2026Q3,...'

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
    return (
        f"SELECT {', '.join(parts)} FROM {file.table} SEMI JOIN run_deliveries USING (practice_id, quarter)"
    )


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


def _deliveries_in_force(
    store: DuckDBStore, deliveries: list[tuple[str, str]]
) -> tuple[list[dict], dict[str, dict]]:
    """The deliveries rows in force, and the aggregate profile of each loaded table over them."""
    batch = pl.DataFrame(deliveries, schema={"practice_id": pl.String, "quarter": pl.String}, orient="row")
    with store.connect() as conn:
        register_temp_table(conn, "run_deliveries", batch)
        rows = fetch_dicts(
            conn,
            "SELECT * FROM current_deliveries SEMI JOIN run_deliveries USING (practice_id, quarter) "
            "ORDER BY practice_id, quarter",
        )
        profiles = {file.table: fetch_dicts(conn, _profile_sql(file))[0] for file in FILES}
    return rows, profiles


def _total(rows: list[dict], column: str) -> int | None:
    """A count summed over the deliveries; None when no delivery has it (file not delivered)."""
    values = [row[column] for row in rows if row.get(column) is not None]
    return sum(values) if values else None


def _statuses(outcomes: list[IngestOutcome]) -> str:
    """'loaded' for one delivery; 'loaded: 14, unchanged: 1' for a batch."""
    if len(outcomes) == 1:
        return outcomes[0].status
    counted: dict[str, int] = {}
    for outcome in outcomes:
        counted[outcome.status] = counted.get(outcome.status, 0) + 1
    return ", ".join(f"{status}: {n}" for status, n in sorted(counted.items()))


@dg.multi_asset(
    name="ingest_delivery",
    specs=INGEST_SPECS,
    partitions_def=practice_quarter,
    can_subset=False,
    description=__doc__,
)
@values_withheld
def ingest_delivery_asset(context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore):
    deliveries = deliveries_of(context)
    home = omu.omu_home()
    retention = load_config(home.config_file).retention or omu.retention
    delivery_dirs = [omu.delivery_dir(practice_id, quarter) for practice_id, quarter in deliveries]
    with store.connect() as conn:  # no access log entry, no run
        try:
            for (practice_id, quarter), delivery_dir in zip(deliveries, delivery_dirs, strict=True):
                manifest, _ = read_manifest(delivery_dir)  # its problems are the ingest's to report
                patients = manifest.rows("patients.csv") if manifest else None
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
    outcomes = ingest_deliveries(home, delivery_dirs, retention=retention, connect=store.connect)
    refused = [outcome for outcome in outcomes if outcome.status == "refused"]
    if refused:
        # the others are loaded; the chain screens them in a run of their own (pipelines/automation.py)
        context.instance.add_run_tags(
            context.run.run_id, {REFUSED_TAG: ",".join(f"{o.practice_id}|{o.quarter}" for o in refused)}
        )
        if len(outcomes) == 1:
            description = refused[0].reason
        else:
            description = f"{len(refused)} of {len(outcomes)} deliveries refused: " + "; ".join(
                f"{o.practice_id}|{o.quarter}: {o.reason}" for o in refused
            )
        raise dg.Failure(
            description=description,
            metadata={
                "status": "refused",
                "refused": ", ".join(f"{o.practice_id} {o.quarter}" for o in refused),
                "report": dg.MetadataValue.path(str(refused[0].outputs["report"]))
                if refused[0].outputs
                else "",
            },
            allow_retries=False,  # a refused delivery stays refused until it is delivered again
        )
    for outcome in outcomes:
        context.log.info(f"{outcome.practice_id} {outcome.quarter}: delivery {outcome.status}")
    rows, profiles = _deliveries_in_force(store, deliveries)
    one = rows[0] if len(deliveries) == 1 and rows else None
    status = _statuses(outcomes)
    for table in RAW_TABLES:
        in_manifest = _total(rows, f"{table}_rows_manifest")
        yield dg.MaterializeResult(
            asset_key=table,
            metadata={
                "deliveries": batch_label(deliveries),
                "status": status,
                "rows_in_manifest": in_manifest if in_manifest is not None else "file not delivered",
                "rows_loaded": _total(rows, f"{table}_rows_loaded") or 0,
                "rows_quarantined": _total(rows, f"{table}_rows_quarantined") or 0,
                "manifest_sha256": one.get("manifest_sha256", "") if one else f"{len(rows)} manifests",
                "distinct_patients": profiles[table]["patients"],
                "profile": dg.MetadataValue.md(
                    markdown_table(_column_profile(FILES_BY_TABLE[table], profiles[table]))
                ),
            },
        )
    checked = [outcome.check for outcome in outcomes if outcome.check is not None]
    reasons = (
        pl.concat([check.quarantine_by_reason() for check in checked])
        .group_by("file", "reason")
        .agg(pl.col("rows").sum())
        .sort("file", "rows", descending=[False, True])
        if checked
        else pl.DataFrame({"note": ["deliveries unchanged since they were loaded"]})
    )
    practice_id, quarter = deliveries[0]
    yield dg.MaterializeResult(
        asset_key="quarantine",
        metadata={
            "rows_quarantined": sum(_total(rows, f"{t}_rows_quarantined") or 0 for t in RAW_TABLES),
            "reasons": dg.MetadataValue.md(markdown_table(reasons)),
            "quarantine_csv": dg.MetadataValue.path(
                str(home.delivery_out(quarter, practice_id) / "quarantine.csv")
            )
            if len(deliveries) == 1
            else "out/<quarter>/deliveries/<practice_id>/quarantine.csv per delivery",
        },
    )
    yield dg.MaterializeResult(
        asset_key="deliveries",
        metadata={
            "status": status,
            "deliveries": batch_label(deliveries),
            "received_at": str(one.get("received_at", "")) if one else "",
            "report": dg.MetadataValue.path(str(home.delivery_out(quarter, practice_id) / "report.md"))
            if len(deliveries) == 1
            else "out/<quarter>/deliveries/<practice_id>/report.md per delivery",
        },
    )
