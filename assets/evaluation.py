"""Feedback to each practice (Dutch, printable): out/<quarter>/practices/<practice_id>/feedback.html.

Per practice|quarter partition, after the practice's outreach list. It also reads the region's
published figures of the quarter (table `indicators`); when the region step has not run yet the
report says so, and `omu run` makes the reports once more after the region step.
"""

import tempfile
import warnings
from pathlib import Path

import dagster as dg

from omu.assets.dashboards import regional_dashboard, regional_indicators
from omu.assets.outreach import outreach_list
from omu.config import load_config
from omu.dashboards.region import PatientIdSearch, patient_ids_in
from omu.evaluation.feedback import compute_feedback, write_feedback
from omu.evaluation.outcome import (
    write_region_evaluation,
)
from omu.models.outcome import load_outcome
from omu.pipelines.partitions import batch_label, deliveries_of, practice_quarter, quarter_of, quarters
from omu.pipelines.resources import DuckDBStore, OmuSettings

with warnings.catch_warnings():  # beta in Dagster 1.13
    warnings.simplefilter("ignore", category=dg.BetaWarning)
    THE_QUARTER_OF_THE_PRACTICE = dg.MultiToSingleDimensionPartitionMapping(
        partition_dimension_name="quarter"
    )


@dg.asset(
    partitions_def=practice_quarter,
    deps=[outreach_list, dg.AssetDep(regional_indicators, partition_mapping=THE_QUARTER_OF_THE_PRACTICE)],
    group_name="feedback",
    kinds={"html"},
)
def practice_feedback(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """The practice's own figures, trend, workload and place beside the region (published figures),
    for each delivery of the run."""
    deliveries = deliveries_of(context)
    profile = omu.screening_profile()
    home = omu.omu_home()
    config = load_config(home.config_file)
    with store.connect() as conn:
        reports = [
            compute_feedback(
                conn,
                profile,
                practice_id=practice_id,
                quarter=quarter,
                capacity=config.capacity_for(practice_id),
            )
            for practice_id, quarter in deliveries
        ]
        search = PatientIdSearch(
            p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()
        )
    paths, withheld = [], 0
    for (practice_id, quarter), fb in zip(deliveries, reports, strict=True):
        with tempfile.TemporaryDirectory() as scratch:  # checked before it reaches the practice's folder
            write_feedback(Path(scratch), fb)
            leaks = len(search.in_folder(Path(scratch)))
        if leaks:
            withheld += 1
        else:
            paths.append(write_feedback(home.practice_out(quarter, practice_id), fb))
    metadata: dict = {"deliveries": batch_label(deliveries), "reports_written": len(paths)}
    if withheld:
        metadata["not_written"] = f"{withheld} report(s): a patient_id was in it"
    if len(deliveries) == 1:
        fb = reports[0]
        metadata |= {
            "feedback": dg.MetadataValue.path(str(paths[0]))
            if paths
            else "not written: a patient_id was in it",
            "quarters_in_trend": len(fb.quarters),
            "listed": int(fb.current["listed"]),
            "backlog": int(fb.current["backlog"]),
            "regional_figures": "published figures of the quarter" if fb.region else "not yet computed",
            "krachtige_basiszorg": fb.krachtige_basiszorg,
        }
    else:
        metadata["listed"] = sum(int(fb.current["listed"]) for fb in reports)
        metadata["backlog"] = sum(int(fb.current["backlog"]) for fb in reports)
    return dg.MaterializeResult(metadata=metadata)


@dg.asset(
    partitions_def=quarters,
    deps=[regional_dashboard],
    group_name="region",
    kinds={"duckdb", "html", "csv"},
)
def regional_evaluation(
    context: dg.AssetExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.MaterializeResult:
    """Outcome after outreach (reached / not reached / declined, adjusted hazard ratios; observational)
    and the funnel crossed -> listed -> attempted -> reached -> referred -> arrived, suppressed, in
    table outreach_evaluation, out/<quarter>/region/evaluation.csv/.html and the dashboard."""
    quarter = quarter_of(context)
    profile = omu.screening_profile()
    outcome = load_outcome()
    folder = omu.omu_home().region_out(quarter)
    config = load_config(omu.omu_home().config_file)
    with store.connect() as conn:
        result, files, on_dashboard = write_region_evaluation(
            conn, folder, profile, outcome, quarter, config.capacity_for
        )
        patient_ids = [p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()]
    leaks = patient_ids_in(folder, patient_ids)
    for path in leaks:  # never leave a patient_id where aggregates belong; the check then fails
        Path(path).unlink(missing_ok=True)
    groups = {r["group"]: r for r in result.groups.iter_rows(named=True)}
    return dg.MaterializeResult(
        metadata={
            "files": dg.MetadataValue.json({name: str(path) for name, path in files.items()}),
            "on_dashboard": on_dashboard,
            "adjusted_for": result.adjusted_for,
            "hazard_ratio_reached": groups["bereikt"]["hr"]
            if groups["bereikt"]["hr"] is not None
            else "not shown",
            "files_removed_holding_a_patient_id": len(leaks),
        },
    )
