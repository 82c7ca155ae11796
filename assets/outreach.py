"""Outreach lists per practice and quarter, for the POH (Dutch): outreach.xlsx/.csv/.html.

Who is on the list, in which order and what rolls over is SQL (sql/outreach/build.sql); the
files are written from the stored list (omu/outreach/list_files.py). A practice's folder holds only
its own patients: a check (assets/checks.py) reads the files back and proves it.
"""

import dagster as dg

from omu import audit
from omu.assets.errors import values_withheld
from omu.assets.screening import first_time_crossers
from omu.config import load_config
from omu.evaluation.followup import add_followup_sheet, pending_followups
from omu.outreach.list_files import write_practice_lists
from omu.outreach.lists import build_lists
from omu.pipelines.partitions import practice_and_quarter, practice_quarter
from omu.pipelines.resources import DuckDBStore, OmuSettings


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
    """The quarter's outreach list per profile (first-time crossers, not reached, carried over;
    capacity from config.yaml) in table outreach_lists and as files in
    out/<quarter>/practices/<practice_id>/ (other profiles than omu-basis v1: <name>-v<version>/)."""
    practice_id, quarter = practice_and_quarter(context)
    home = omu.omu_home()
    capacity = load_config(home.config_file).capacity_for(practice_id)
    metadata: dict = {"capacity": capacity if capacity is not None else "unlimited"}
    for number, profile in enumerate(omu.screening_profiles()):
        with store.connect() as conn:
            # the risk model is trained for the primary (first) profile; other lists go in score order
            lists = build_lists(
                conn,
                profile,
                practice_id=practice_id,
                quarter=quarter,
                capacity=capacity,
                use_risk_model=number == 0,
            )
            if number == 0:  # referrals to follow up: on the primary profile's list, once
                pending = pending_followups(conn, practice_id=practice_id, quarter=quarter)
            listed = lists.outreach.height + (lists.baseline.height if lists.is_first_quarter else 0)
            try:  # no access log entry, no files
                audit.record(
                    conn,
                    "list_written",
                    practice_id=practice_id,
                    quarter=quarter,
                    patients=listed,
                    dagster_run_id=context.run.run_id,
                    detail=f"{profile.name} v{profile.version}: outreach.xlsx/.csv/.html"
                    + (", baseline.xlsx" if lists.is_first_quarter else ""),
                )
            except audit.AuditError as error:
                raise dg.Failure(
                    str(error), allow_retries=False
                ) from None  # an unwritable log needs a person, not a retry
        folder = home.practice_out(quarter, practice_id, profile.output_folder)
        paths = write_practice_lists(folder, lists, profile, practice_id=practice_id, quarter=quarter)
        if number == 0:
            add_followup_sheet(paths["outreach.xlsx"], pending, practice_id=practice_id)
            metadata["referrals_to_follow_up"] = pending.height
        inclusion = (
            lists.outreach.group_by("inclusion").len().sort("inclusion") if lists.outreach.height else None
        )
        prefix = "" if number == 0 else f"{profile.key}: "
        metadata |= {
            f"{prefix}profile": f"{profile.name} v{profile.version}",
            f"{prefix}listed": lists.outreach.height,
            f"{prefix}carried_over_to_next_quarter": lists.carried_over,
            f"{prefix}baseline": lists.baseline.height if lists.is_first_quarter else 0,
            f"{prefix}ordered_by": "predicted risk" if lists.has_risk_model else "score, then age",
            f"{prefix}by_inclusion": dg.MetadataValue.json(
                dict(inclusion.iter_rows()) if inclusion is not None else {}
            ),
            f"{prefix}files": dg.MetadataValue.json({name: str(path) for name, path in paths.items()}),
        }
    return dg.MaterializeResult(metadata=metadata)
