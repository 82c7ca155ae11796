"""What follows what: the chain after the landing sensor, read from Dagster's own run history.

The landing sensor starts `screening_job` (ingest + screening) for every new or changed delivery.
`chain_sensor` then evaluates `plan_chain` on every tick and requests the runs that are due:

1. The deliveries are *in* when every delivery in the landing folder (its current manifest) has a
   finished screening run (succeeded or failed: a refused practice never holds up the others),
   none is queued or running, and the last one finished at least `automation.quiet_period`
   seconds ago (config.yaml, default 60) — a short pause so a batch landing together is handled
   together. No calendar date is involved.
2. Then, once per set of screened deliveries (the *generation*): `model_job` trains or loads the
   risk model on everything screened.
3. After the model run: `outreach_job` for every screened delivery whose list was not yet written
   for its manifest and the current model, oldest quarter first.
4. After a quarter's lists (and those of earlier quarters): `region_job` for that quarter, when a
   delivery of it or of an earlier quarter changed, or the model did.
5. After that region run: `feedback_job` for every practice of the quarter whose own deliveries
   (or the model) changed since its report was written (its feedback report beside the region's
   published figures): a re-delivery of one practice rewrites that practice's report only.

Every decision is a lookup of runs by their `omu/...` tags, so `omu run` evaluates exactly the same
plan in-process (pipelines/runner.py) and the daemon and `omu run` never run a step twice.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import FINISHED_STATUSES, RunRecord

from omu.pipelines.partitions import partition_key
from omu.pipelines.sensors import landed_deliveries

STEP = "omu/step"
PRACTICE = "omu/practice"
QUARTER = "omu/quarter"
MANIFEST = "omu/manifest"
GENERATION = "omu/generation"
MODEL = "omu/model"
INPUTS = "omu/inputs"
PROFILE = "omu/profile"


@dataclass
class Plan:
    """The runs due now (each names its job), or why nothing is due."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    waiting: str = ""


def _short(*parts: object) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:16]


def _latest(
    instance: dg.DagsterInstance, step: str, profile: str, key_tags: tuple[str, ...]
) -> dict[tuple, RunRecord]:
    """The newest run record of a step for the profile, per value of its key tags."""
    latest: dict[tuple, RunRecord] = {}
    for record in instance.get_run_records(
        dg.RunsFilter(tags={STEP: step, PROFILE: profile})
    ):  # newest first
        key = tuple(record.dagster_run.tags.get(tag, "") for tag in key_tags)
        latest.setdefault(key, record)
    return latest


def _finished(record: RunRecord) -> bool:
    return record.dagster_run.status in FINISHED_STATUSES


def _succeeded(record: RunRecord) -> bool:
    return record.dagster_run.status == dg.DagsterRunStatus.SUCCESS


def _end_time(record: RunRecord) -> float:
    return record.end_time or record.update_timestamp.timestamp()


def model_label(instance: dg.DagsterInstance) -> str:
    """The model the lists are ordered by now ('none': score order), from risk_model's metadata."""
    event = instance.get_latest_materialization_event(dg.AssetKey("risk_model"))
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    return str(metadata["model"].value) if "model" in metadata else "none"


def plan_chain(
    instance: dg.DagsterInstance,
    landing: Path,
    *,
    profile: str,
    quiet_period: float,
    quarter: str | None = None,
    now: float | None = None,
) -> Plan:
    """The model, outreach and region runs due now for the deliveries in `landing`."""
    now = time.time() if now is None else now
    landed = sorted(landed_deliveries(landing).values(), key=lambda item: (item[1], item[0]))
    if quarter:
        landed = [item for item in landed if item[1] == quarter]
    if not landed:
        return Plan(waiting=f"no deliveries in {landing}")

    screenings = _latest(instance, "screening", profile, (PRACTICE, QUARTER, MANIFEST))
    open_deliveries, last_end, screened = 0, 0.0, []
    for practice_id, delivery_quarter, sha in landed:
        record = screenings.get((practice_id, delivery_quarter, sha[:16]))
        if record is None or not _finished(record):
            open_deliveries += 1
            continue
        last_end = max(last_end, _end_time(record))
        if _succeeded(record):
            screened.append((practice_id, delivery_quarter, sha[:16]))
    if open_deliveries:
        return Plan(waiting=f"{open_deliveries} of {len(landed)} deliveries not screened yet")
    if now - last_end < quiet_period:
        return Plan(
            waiting=f"quiet period: the last screening finished {now - last_end:.0f} s ago "
            f"(waits {quiet_period:.0f} s)"
        )
    if not screened:
        return Plan(waiting="no delivery was screened successfully")

    generation = _short(profile, *screened)
    model_run = _latest(instance, "model", profile, (GENERATION,)).get((generation,))
    if model_run is None:
        return Plan(
            [
                dg.RunRequest(
                    job_name="model_job",
                    run_key=f"model|{generation}",
                    tags={STEP: "model", GENERATION: generation, PROFILE: profile},
                )
            ]
        )
    if not _finished(model_run):
        return Plan(waiting="the risk model is being trained or loaded")

    model = model_label(instance)
    lists = _latest(instance, "outreach", profile, (PRACTICE, QUARTER, MANIFEST, MODEL))
    requests: list[dg.RunRequest] = []
    busy_quarters: set[str] = set()
    for practice_id, delivery_quarter, sha16 in screened:
        record = lists.get((practice_id, delivery_quarter, sha16, model))
        if record is None:
            requests.append(
                dg.RunRequest(
                    job_name="outreach_job",
                    run_key=f"outreach|{practice_id}|{delivery_quarter}|{sha16}|{model}",
                    partition_key=partition_key(practice_id, delivery_quarter),
                    tags={
                        STEP: "outreach",
                        PRACTICE: practice_id,
                        QUARTER: delivery_quarter,
                        MANIFEST: sha16,
                        MODEL: model,
                        PROFILE: profile,
                    },
                )
            )
        if record is None or not _finished(record):
            busy_quarters.add(delivery_quarter)

    regions = _latest(instance, "region", profile, (QUARTER, INPUTS))
    feedbacks = _latest(instance, "feedback", profile, (PRACTICE, QUARTER, INPUTS))
    for region_quarter in sorted({q for _, q, _ in screened}):
        if any(busy <= region_quarter for busy in busy_quarters):
            continue  # the indicators read this quarter's lists and the trend of the earlier ones
        inputs = _short(profile, model, *(item for item in screened if item[1] <= region_quarter))
        region_run = regions.get((region_quarter, inputs))
        if region_run is None:
            requests.append(
                dg.RunRequest(
                    job_name="region_job",
                    run_key=f"region|{region_quarter}|{inputs}",
                    partition_key=region_quarter,
                    tags={STEP: "region", QUARTER: region_quarter, INPUTS: inputs, PROFILE: profile},
                )
            )
            continue
        if not _finished(region_run):
            busy_quarters.add(region_quarter)
            continue
        # then each practice's feedback report beside the region's published figures. Keyed by the
        # practice's own deliveries (and the model): a re-delivery of one practice rewrites that
        # practice's report only; the others keep theirs until their own data change.
        for practice_id, delivery_quarter, _ in screened:
            if delivery_quarter != region_quarter:
                continue
            own = _short(
                profile,
                model,
                *(item for item in screened if item[0] == practice_id and item[1] <= region_quarter),
            )
            if (practice_id, region_quarter, own) not in feedbacks:
                requests.append(
                    dg.RunRequest(
                        job_name="feedback_job",
                        run_key=f"feedback|{practice_id}|{region_quarter}|{own}",
                        partition_key=partition_key(practice_id, region_quarter),
                        tags={
                            STEP: "feedback",
                            PRACTICE: practice_id,
                            QUARTER: region_quarter,
                            INPUTS: own,
                            PROFILE: profile,
                        },
                    )
                )
    if requests:
        return Plan(requests)
    if busy_quarters:
        return Plan(
            waiting=f"lists or regional figures of {', '.join(sorted(busy_quarters))} are being written"
        )
    return Plan(waiting="every output is up to date")
