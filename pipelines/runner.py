"""Run the chain through Dagster for `omu run` and `omu demo`.

Every step is a real Dagster run on the persistent instance in the omu home (so `dagster dev`
shows the same history): one run of the deliveries job per practice-quarter, oldest quarter
first, then the region and model steps as they exist.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from omu.home import OmuHome
from omu.quarters import Quarter
from pipelines.definitions import build_definitions
from pipelines.partitions import partition_key
from pipelines.sensors import landed_deliveries

# The run's full event log stays in Dagster's storage (see `dagster dev`); the terminal gets warnings.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunOutcome:
    job: str
    practice_id: str
    quarter: str
    success: bool
    run_id: str
    message: str = ""


@dataclass
class ChainSummary:
    home: OmuHome
    runs: list[RunOutcome] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.runs)

    def failed(self, practice_id: str, quarter: str) -> bool:
        return any(not o.success for o in self.runs if (o.practice_id, o.quarter) == (practice_id, quarter))


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The description of the first step failure (a refusal carries its reasons there)."""
    for event in result.all_events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            if data.error:
                return data.error.message.strip()
    return "the run failed"


def select_deliveries(landing: Path, quarter: str | None) -> list[tuple[str, str]]:
    landed = sorted(((q, p) for p, q, _ in landed_deliveries(landing).values()))
    if quarter:
        wanted = str(Quarter.parse(quarter))
        landed = [(q, p) for q, p in landed if q == wanted]
    return [(p, q) for q, p in landed]


# Per practice-quarter phases, each over every delivery (oldest quarter first) before the next.
PHASES = (("screening_job", "ingest and screening"), ("outreach_job", "outreach list"))
# Once, before the outreach phase: the risk model learns from (or is loaded for) every screened
# practice, so the outreach phase's risk_scores order the lists by it (or by score without one).
MODEL_PHASE = ("model_job", "risk model: train or load")
MODEL = "model"  # the practice column of the model step in the summary
# Then once per quarter (oldest first), over every practice that delivered it: the region step.
REGION_PHASE = ("region_job", "regional indicators and dashboard")
REGION = "regio"  # the practice column of a region step in the summary
# Last, per delivery: the practice's feedback report beside the region's published figures.
FEEDBACK_PHASE = ("feedback_job", "feedback report")


def run_chain(
    home: OmuHome,
    landing: Path,
    *,
    quarter: str | None = None,
    profile: str | None = None,
    on_step: Callable[[str], None] | None = None,
) -> ChainSummary:
    """Run every phase through Dagster; `on_step` hears each step's description as it starts."""
    home.prepare()
    landing = Path(landing).resolve()
    deliveries = select_deliveries(landing, quarter)
    summary = ChainSummary(home)
    if not deliveries:
        return summary
    definitions = build_definitions(home, str(landing), profile)
    instance = dg.DagsterInstance.get()
    for dimension, wanted in (("practice", {p for p, _ in deliveries}), ("quarter", {q for _, q in deliveries})):
        missing = sorted(wanted - set(instance.get_dynamic_partitions(dimension)))
        if missing:
            instance.add_dynamic_partitions(dimension, missing)

    for job_name, description in PHASES:
        if job_name == "outreach_job":
            _run_model(definitions, instance, summary, on_step)
        job = definitions.resolve_job_def(job_name)
        for practice_id, delivery_quarter in deliveries:
            if summary.failed(practice_id, delivery_quarter):
                continue  # a refused delivery has nothing further to do
            if on_step:
                on_step(f"{practice_id} {delivery_quarter}: {description}")
            result = job.execute_in_process(
                partition_key=partition_key(practice_id, delivery_quarter),
                run_config=QUIET_LOGS,
                instance=instance,
                raise_on_error=False,
                tags={"omu/practice": practice_id, "omu/quarter": delivery_quarter},
            )
            summary.runs.append(RunOutcome(job_name, practice_id, delivery_quarter, result.success, result.run_id,
                                           "" if result.success else failure_message(result)))
    _run_region(definitions, instance, summary, deliveries, on_step)
    _run_feedback(definitions, instance, summary, deliveries, on_step)
    return summary


def _run_feedback(definitions: dg.Definitions, instance: dg.DagsterInstance, summary: ChainSummary,
                  deliveries: list[tuple[str, str]], on_step: Callable[[str], None] | None) -> None:
    job_name, description = FEEDBACK_PHASE
    job = definitions.resolve_job_def(job_name)
    for practice_id, delivery_quarter in deliveries:
        if summary.failed(practice_id, delivery_quarter):
            continue
        if on_step:
            on_step(f"{practice_id} {delivery_quarter}: {description}")
        result = job.execute_in_process(
            partition_key=partition_key(practice_id, delivery_quarter), run_config=QUIET_LOGS, instance=instance,
            raise_on_error=False, tags={"omu/practice": practice_id, "omu/quarter": delivery_quarter})
        summary.runs.append(RunOutcome(job_name, practice_id, delivery_quarter, result.success, result.run_id,
                                       "" if result.success else failure_message(result)))


def _run_model(definitions: dg.Definitions, instance: dg.DagsterInstance, summary: ChainSummary,
               on_step: Callable[[str], None] | None) -> None:
    """The model step, once; a failure is reported but the lists are still written (score order)."""
    job_name, description = MODEL_PHASE
    if on_step:
        on_step(description)
    result = definitions.resolve_job_def(job_name).execute_in_process(
        run_config=QUIET_LOGS, instance=instance, raise_on_error=False)
    summary.runs.append(RunOutcome(job_name, MODEL, "", result.success, result.run_id,
                                   "" if result.success else failure_message(result)))
    for materialization in result.asset_materializations_for_node("risk_model") if result.success else []:
        if "model_dir" in materialization.metadata:
            summary.outputs["risk model"] = Path(str(materialization.metadata["model_dir"].value))


def _run_region(definitions: dg.Definitions, instance: dg.DagsterInstance, summary: ChainSummary,
                deliveries: list[tuple[str, str]], on_step: Callable[[str], None] | None) -> None:
    """The region step per quarter that at least one delivery reached without failing."""
    job_name, description = REGION_PHASE
    job = definitions.resolve_job_def(job_name)
    for region_quarter in sorted({q for p, q in deliveries if not summary.failed(p, q)}):
        if on_step:
            on_step(f"{region_quarter}: {description}")
        result = job.execute_in_process(
            partition_key=region_quarter, run_config=QUIET_LOGS, instance=instance, raise_on_error=False,
            tags={"omu/quarter": region_quarter},
        )
        summary.runs.append(RunOutcome(job_name, REGION, region_quarter, result.success, result.run_id,
                                       "" if result.success else failure_message(result)))
        if result.success:
            summary.outputs["dashboard"] = summary.home.region_out(region_quarter) / "dashboard.html"


def step_count(landing: Path, quarter: str | None) -> int:
    deliveries = select_deliveries(landing, quarter)
    # per delivery: the phases and the feedback report; per quarter: the region; once: the model
    return len(deliveries) * (len(PHASES) + 1) + len({q for _, q in deliveries}) + 1
