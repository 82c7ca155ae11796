"""The quarterly schedules: a calendar safety net next to the sensors, off by default.

The landing and chain sensors (pipelines/automation.py) already make every output as soon as the
deliveries are in; these two only re-request, on a fixed date, what is missing (run keys are the
landing sensor's plan, so nothing already screened runs twice). Switch them on in the UI if wanted."""

from pathlib import Path

import dagster as dg

from omu.pipelines.jobs import screening_job
from omu.pipelines.resources import OmuSettings
from omu.pipelines.sensors import screening_requests
from omu.quarters import Quarter

# The 15th of the month after each quarter, 07:00: deliveries are extracted in the first days.
QUARTERLY_CRON = "0 7 15 1,4,7,10 *"


@dg.schedule(
    cron_schedule=QUARTERLY_CRON,
    job=screening_job,
    execution_timezone="Europe/Amsterdam",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Each quarter: load and screen every delivery of the quarter just completed.",
)
def quarterly_screening(context: dg.ScheduleEvaluationContext, omu: OmuSettings):
    completed = str(Quarter.containing(context.scheduled_execution_time.date()).previous())
    if not omu.landing or not Path(omu.landing).is_dir():
        return dg.SkipReason(f"no deliveries for {completed} in {omu.landing!r} yet")
    requests, additions, waiting = screening_requests(context.instance, omu, quarter=completed)
    if not requests:
        return dg.SkipReason(f"{completed}: {waiting}")
    for addition in additions:
        context.instance.add_dynamic_partitions(addition.partitions_def_name, list(addition.partition_keys))
    return requests


@dg.schedule(
    cron_schedule="0 7 16 1,4,7,10 *",
    job_name="region_job",
    execution_timezone="Europe/Amsterdam",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="The day after the quarterly screening: regional indicators and dashboard of the quarter.",
)
def quarterly_dashboard(context: dg.ScheduleEvaluationContext):
    completed = str(Quarter.containing(context.scheduled_execution_time.date()).previous())
    if completed not in context.instance.get_dynamic_partitions("quarter"):
        return dg.SkipReason(f"no delivery of {completed} has been loaded yet")
    return [dg.RunRequest(run_key=f"region|{completed}", partition_key=completed)]
