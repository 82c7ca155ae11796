"""Sensors: the landing sensor notices new or changed deliveries by their manifest hash and starts
their screening, in batches; the chain sensor requests what follows (pipelines/automation.py).

Both are off by default (`omu ui`, tests); `omu serve` sets OMU_AUTOMATION=on so they run under
the daemon from its first tick.
"""

import hashlib
import os
from pathlib import Path

import dagster as dg

from omu.pipelines.jobs import model_job, outreach_job, region_job, screening_job
from omu.pipelines.partitions import practices, quarters
from omu.pipelines.resources import OmuSettings

SENSOR_INTERVAL = 15  # seconds; a tick reads the landing folder's manifests and the run history


def automation_status() -> dg.DefaultSensorStatus:
    on = os.environ.get("OMU_AUTOMATION", "").lower() in ("on", "1", "true")
    return dg.DefaultSensorStatus.RUNNING if on else dg.DefaultSensorStatus.STOPPED


def landed_deliveries(landing: Path) -> dict[str, tuple[str, str, str]]:
    """'P0001|2026Q3' -> (practice_id, quarter, manifest sha256) for every delivery with a manifest.
    A practice folder whose name is no practice id is passed over (landing_problems names it)."""
    from omu.contract import PracticeIdError, checked_practice_id
    from omu.quarters import Quarter

    found: dict[str, tuple[str, str, str]] = {}
    for manifest in sorted(landing.glob("*/*/manifest.json")):
        quarter_dir = manifest.parent
        try:
            quarter = str(Quarter.parse(quarter_dir.name))
            practice_id = checked_practice_id(quarter_dir.parent.name)
        except (ValueError, PracticeIdError):
            continue
        sha = hashlib.sha256(manifest.read_bytes()).hexdigest()
        found[f"{practice_id}|{quarter}"] = (practice_id, quarter, sha)
    return found


def landing_problems(landing: Path) -> list[str]:
    """Why a folder holding a manifest is passed over: its practice folder is no practice id."""
    from omu.contract import PracticeIdError, checked_practice_id

    problems = []
    for folder in sorted({manifest.parent.parent for manifest in landing.glob("*/*/manifest.json")}):
        try:
            checked_practice_id(folder.name, f"landing folder {folder}")
        except PracticeIdError as error:
            problems.append(f"{error}; its deliveries are not read")
    return problems


def profile_label(omu: OmuSettings) -> str:
    """The screening profiles a run screens with (side by side, the primary first): part of every run
    key, so another set of profiles reruns all."""
    return "+".join(f"{profile.name}-v{profile.version}" for profile in omu.screening_profiles())


def screening_requests(
    instance: dg.DagsterInstance, omu: OmuSettings, *, quarter: str | None = None
) -> tuple[list[dg.RunRequest], list[dg.AddDynamicPartitionsRequest], str]:
    """The screening runs due for the landing folder (pipelines/automation.py, plan_screening), the
    practices and quarters to add as partitions first, and why nothing is due."""
    from omu.config import load_config
    from omu.pipelines.automation import landed_in, plan_screening

    landed = landed_in(Path(omu.landing), quarter)  # each manifest read and hashed once per tick
    known_practices = list(instance.get_dynamic_partitions("practice"))
    new_practices = sorted({p for p, _, _ in landed} - set(known_practices))
    new_quarters = sorted({q for _, q, _ in landed} - set(instance.get_dynamic_partitions("quarter")))
    plan = plan_screening(
        instance,
        landed,
        profile=profile_label(omu),
        parts=load_config(omu.omu_home().config_file).workers,
        practice_order=known_practices + new_practices,  # the order after the practices are added
    )
    additions = [
        request
        for request in (
            practices.build_add_request(new_practices) if new_practices else None,
            quarters.build_add_request(new_quarters) if new_quarters else None,
        )
        if request is not None
    ]
    return plan.requests, additions, plan.waiting


@dg.sensor(
    job=screening_job,
    minimum_interval_seconds=SENSOR_INTERVAL,
    default_status=automation_status(),
    description="Watches the landing folder; new or changed manifest.json files start those deliveries' "
    "ingest and screening, a batch per quarter.",
)
def landing_sensor(context: dg.SensorEvaluationContext, omu: OmuSettings) -> dg.SensorResult | dg.SkipReason:
    if not omu.landing or not Path(omu.landing).is_dir():
        return dg.SkipReason(f"no landing folder at {omu.landing!r} (set OMU_LANDING)")
    for problem in landing_problems(Path(omu.landing)):
        context.log.warning(problem)
    requests, additions, waiting = screening_requests(context.instance, omu)
    if not requests:
        return dg.SkipReason(waiting)
    return dg.SensorResult(run_requests=requests, dynamic_partitions_requests=additions)


@dg.sensor(
    jobs=[model_job, outreach_job, region_job],
    minimum_interval_seconds=SENSOR_INTERVAL,
    default_status=automation_status(),
    description="Once the landed deliveries are screened (and a quiet period has passed): the risk model, "
    "then each delivery's outreach list, then each changed quarter's regional dashboard.",
)
def chain_sensor(context: dg.SensorEvaluationContext, omu: OmuSettings) -> dg.SensorResult | dg.SkipReason:
    from omu.config import load_config
    from omu.pipelines.automation import plan_chain

    if not omu.landing or not Path(omu.landing).is_dir():
        return dg.SkipReason(f"no landing folder at {omu.landing!r} (set OMU_LANDING)")
    config = load_config(omu.omu_home().config_file)
    plan = plan_chain(
        context.instance,
        Path(omu.landing),
        profile=profile_label(omu),
        quiet_period=config.quiet_period,
        parts=config.workers,
    )
    if not plan.requests:
        return dg.SkipReason(plan.waiting)
    return dg.SensorResult(run_requests=plan.requests)
