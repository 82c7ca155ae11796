"""Outreach lists per practice and quarter, for the POH (Dutch): outreach.xlsx/.csv/.html.

Who is on the list, in which order and what rolls over is SQL (sql/outreach/build.sql); the
files are written from the stored list (omu/outreach/list_files.py). A practice's folder holds only
its own patients: a check (assets/checks.py) reads the files back and proves it.
"""

import dagster as dg
import polars as pl

from omu import audit
from omu.assets.errors import values_withheld
from omu.assets.screening import first_time_crossers
from omu.config import load_config
from omu.evaluation.followup import add_followup_sheet, pending_followups
from omu.markdown import markdown_table
from omu.outreach.list_files import write_practice_lists
from omu.outreach.lists import build_lists_batch
from omu.pipelines.partitions import batch_label, deliveries_of, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings

# the counts of one practice's lists, per practice of a batch in the metadata
COUNTS = {
    "practice": pl.String,
    "quarter": pl.String,
    "listed": pl.Int64,
    "carried_over": pl.Int64,
    "baseline": pl.Int64,
    "by_model": pl.Boolean,
    "follow_up": pl.Int64,
}


@dg.asset(
    partitions_def=practice_quarter,
    deps=[first_time_crossers, "risk_scores"],
    group_name="outreach",
    kinds={"duckdb", "excel"},
)
@values_withheld
def outreach_list(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """The quarter's outreach list per profile and delivery of the run (first-time crossers, not
    reached, carried over; capacity from config.yaml) in table outreach_lists and as files in
    out/<quarter>/practices/<practice_id>/ (other profiles than omu-basis v1: <name>-v<version>/).
    A batch's lists are built quarter by quarter (a list carries over from the one before)."""
    deliveries = deliveries_of(context)
    home = omu.omu_home()
    config = load_config(home.config_file)
    metadata: dict = {"deliveries": batch_label(deliveries)}
    if len(deliveries) == 1:
        capacity = config.capacity_for(deliveries[0][0])
        metadata["capacity"] = capacity if capacity is not None else "unlimited"
    for number, profile in enumerate(omu.screening_profiles()):
        prefix = "" if number == 0 else f"{profile.key}: "
        written = []
        for quarter in sorted({quarter for _, quarter in deliveries}):
            capacities = {p: config.capacity_for(p) for p, q in deliveries if q == quarter}
            written += _write_lists(context, omu, store, profile, quarter, capacities, primary=number == 0)
        summary = pl.DataFrame([{key: row[key] for key in COUNTS} for row in written], schema=COUNTS).sort(
            "practice", "quarter"
        )
        metadata |= {
            f"{prefix}profile": f"{profile.name} v{profile.version}",
            f"{prefix}listed": int(summary["listed"].sum()),
            f"{prefix}carried_over_to_next_quarter": int(summary["carried_over"].sum()),
            f"{prefix}baseline": int(summary["baseline"].sum()),
            f"{prefix}ordered_by": "predicted risk" if summary["by_model"].all() else "score, then age",
        }
        if number == 0:
            metadata["referrals_to_follow_up"] = int(summary["follow_up"].sum())
        if len(deliveries) == 1:
            only = written[0]
            metadata |= {
                f"{prefix}by_inclusion": dg.MetadataValue.json(only["by_inclusion"]),
                f"{prefix}files": dg.MetadataValue.json(only["files"]),
            }
        else:
            metadata[f"{prefix}per_practice"] = dg.MetadataValue.md(
                markdown_table(summary.select("practice", "quarter", "listed", "carried_over", "baseline"))
            )
    return dg.MaterializeResult(metadata=metadata)


def _write_lists(
    context: dg.AssetExecutionContext,
    omu: OmuSettings,
    store: DuckDBStore,
    profile,
    quarter: str,
    capacities: dict[str, int | None],
    *,
    primary: bool,
) -> list[dict]:
    """Build the lists of the practices in `capacities` (practice -> capacity, None: unlimited) for
    one quarter and profile, log the access per practice and write each practice's files; a row of
    counts per practice."""
    home = omu.omu_home()
    with store.connect() as conn:
        # the risk model is trained for the primary (first) profile; other lists go in score order
        built = build_lists_batch(  # one SQL pass for the batch's practices
            conn,
            profile,
            quarter=quarter,
            capacities=capacities,
            use_risk_model=primary,
        )
        # referrals to follow up: on the primary profile's list, once
        pending = {
            practice_id: pending_followups(conn, practice_id=practice_id, quarter=quarter)
            for practice_id in (capacities if primary else [])
        }
        try:  # no access log entry, no files
            for practice_id, lists in built.items():
                audit.record(
                    conn,
                    "list_written",
                    practice_id=practice_id,
                    quarter=quarter,
                    patients=lists.outreach.height + (lists.baseline.height if lists.is_first_quarter else 0),
                    dagster_run_id=context.run.run_id,
                    detail=f"{profile.name} v{profile.version}: outreach.xlsx/.csv/.html"
                    + (", baseline.xlsx" if lists.is_first_quarter else ""),
                )
        except audit.AuditError as error:
            raise dg.Failure(
                str(error), allow_retries=False
            ) from None  # an unwritable log needs a person, not a retry
    rows = []
    for practice_id, lists in built.items():
        folder = home.practice_out(quarter, practice_id, profile.output_folder)
        paths = write_practice_lists(folder, lists, profile, practice_id=practice_id, quarter=quarter)
        if primary:
            add_followup_sheet(paths["outreach.xlsx"], pending[practice_id], practice_id=practice_id)
        inclusion = (
            lists.outreach.group_by("inclusion").len().sort("inclusion") if lists.outreach.height else None
        )
        rows.append(
            {
                "practice": practice_id,
                "quarter": quarter,
                "listed": lists.outreach.height,
                "carried_over": lists.carried_over,
                "baseline": lists.baseline.height if lists.is_first_quarter else 0,
                "by_model": lists.has_risk_model,
                "follow_up": pending[practice_id].height if primary else 0,
                "by_inclusion": dict(inclusion.iter_rows()) if inclusion is not None else {},
                "files": {name: str(path) for name, path in paths.items()},
            }
        )
    return rows
