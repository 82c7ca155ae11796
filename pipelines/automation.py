"""What follows what: every run the daemon (and `omu run`) makes, planned from Dagster's own run history.

Runs are *batches*: a range of practices of one quarter in one run (pipelines/partitions.py), so
the set-based steps — the contract validation, the screening, the lists — do their work once for
many deliveries; a quarter's batch is split into `automation.workers` runs that go side by side.

0. `landing_sensor` evaluates `plan_screening` on every tick: the landed deliveries (by manifest
   hash) without a screening run are ingested and screened, oldest quarter first (a practice's
   quarters are screened in order). A batch that refused a delivery loads and fails for it alone:
   the others of the batch, already loaded, are screened in a run of their own.
`chain_sensor` then evaluates `plan_chain` and requests the runs that are due:

1. The deliveries are *in* when every delivery in the landing folder (its current manifest) has a
   finished screening run (succeeded or failed: a refused practice never holds up the others),
   none is queued or running, and the last one finished at least `automation.quiet_period`
   seconds ago (config.yaml, default 60) — a short pause so a batch landing together is handled
   together. No calendar date is involved.
2. Then, once per set of screened deliveries (the *generation*): `model_job` trains or loads the
   risk model on everything screened.
3. After the model run: `outreach_job` for the screened deliveries whose list was not yet written
   for their manifest and the current model, a quarter at a time, oldest first (a list carries
   over from the quarter before).
4. After a quarter's lists (and those of earlier quarters): `region_job` for that quarter, when a
   delivery of it or of an earlier quarter changed, or the model did.
5. After that region run: `feedback_job` for the practices of the quarter whose own deliveries
   (or the model) changed since their report was written (their feedback report beside the
   region's published figures): a re-delivery of one practice rewrites that practice's report only.

Every decision is a lookup of runs by their `omu/...` tags (a batch names its deliveries in
`omu/deliveries`), so `omu run` evaluates exactly the same plan in-process (pipelines/runner.py)
and the daemon and `omu run` never run a step twice.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.storage.dagster_run import FINISHED_STATUSES, RunRecord

from omu.pipelines.partitions import batch_tags
from omu.pipelines.sensors import landed_deliveries

STEP = "omu/step"
PRACTICE = "omu/practice"
QUARTER = "omu/quarter"
GENERATION = "omu/generation"
MODEL = "omu/model"
INPUTS = "omu/inputs"
PROFILE = "omu/profile"
DELIVERIES = "omu/deliveries"  # a run's deliveries: 'P0001|2026Q3|<key>,...' (key: manifest or inputs)
REFUSED = "omu/refused"  # set by the ingest on a run that refused deliveries: 'P0001|2026Q3,...'

Entry = tuple[str, str, str]  # (practice, quarter, key): the manifest's sha256[:16], or the inputs' hash


@dataclass
class Plan:
    """The runs due now (each names its job), or why nothing is due."""

    requests: list[dg.RunRequest] = field(default_factory=list)
    waiting: str = ""


def _short(*parts: object) -> str:
    return hashlib.sha256("\n".join(map(str, parts)).encode()).hexdigest()[:16]


def _items(value: str) -> list[tuple[str, ...]]:
    """A tag's list: 'P0001|2026Q3|<key>,P0002|...' -> [('P0001', '2026Q3', '<key>'), ...]."""
    return [tuple(item.split("|")) for item in value.split(",") if item]


def entries_of(tags: Mapping[str, str]) -> list[Entry]:
    """The deliveries a run (or a run request) handles, with their key, from its tags."""
    return _items(tags.get(DELIVERIES, ""))  # type: ignore[return-value]


def run_entries(record: RunRecord) -> list[Entry]:
    """The deliveries a run handled, with their key."""
    return entries_of(record.dagster_run.tags)


def _latest(
    instance: dg.DagsterInstance, step: str, profile: str, key_tags: tuple[str, ...] = ()
) -> dict[tuple, RunRecord]:
    """The newest run record of a step for the profile, per delivery entry (practice, quarter,
    key) plus the values of `key_tags`; a region run (no deliveries) per value of its key tags."""
    latest: dict[tuple, RunRecord] = {}
    for record in instance.get_run_records(
        dg.RunsFilter(tags={STEP: step, PROFILE: profile})
    ):  # newest first
        extra = tuple(record.dagster_run.tags.get(tag, "") for tag in key_tags)
        entries: list[tuple[str, ...]] = list(run_entries(record)) or [()]
        for entry in entries:
            latest.setdefault((*entry, *extra), record)
    return latest


def _loaded_by_a_refusing_batch(record: RunRecord, entry: Entry) -> bool:
    """The delivery's run failed because its batch refused another delivery: it was loaded and is
    screened in a run of its own."""
    if _succeeded(record):
        return False
    refused = set(_items(record.dagster_run.tags.get(REFUSED, "")))
    return bool(refused) and entry[:2] not in refused


def landed_in(landing: Path, quarter: str | None) -> list[tuple[str, str, str]]:
    """The landed deliveries (practice, quarter, manifest sha256), oldest quarter first; only
    `quarter`'s when given."""
    landed = sorted(landed_deliveries(landing).values(), key=lambda item: (item[1], item[0]))
    return [item for item in landed if item[1] == quarter] if quarter else landed


def batches(entries: list[Entry], practice_order: list[str], parts: int) -> list[list[Entry]]:
    """Entries of one quarter as runs: ranges of practices that follow each other in the partition
    order (a run's range holds exactly its entries), split into about `parts` runs side by side."""
    position = {practice: number for number, practice in enumerate(practice_order)}
    ordered = sorted(entries, key=lambda entry: position[entry[0]])
    size = max(1, -(-len(ordered) // max(1, parts)))  # ceiling division
    runs: list[list[Entry]] = []
    for entry in ordered:
        last = runs[-1] if runs else None
        if last and len(last) < size and position[entry[0]] == position[last[-1][0]] + 1:
            last.append(entry)
        else:
            runs.append([entry])
    return runs


def batch_request(job_name: str, step: str, batch: list[Entry], profile: str, **tags: str) -> dg.RunRequest:
    """One run over a batch of one quarter, keyed by its entries (and tags): requested once."""
    quarter = batch[0][1]
    entries = ",".join("|".join(entry) for entry in batch)
    return dg.RunRequest(
        job_name=job_name,
        run_key=f"{step}|{quarter}|{_short(profile, entries, *tags.values())}",
        tags={
            **batch_tags([(practice, q) for practice, q, _ in batch]),
            STEP: step,
            QUARTER: quarter,
            DELIVERIES: entries,
            PROFILE: profile,
            **({PRACTICE: batch[0][0]} if len(batch) == 1 else {}),
            **tags,
        },
    )


def plan_screening(
    instance: dg.DagsterInstance,
    landed: list[tuple[str, str, str]],
    *,
    profile: str,
    parts: int,
    practice_order: list[str],
) -> Plan:
    """The screening runs due now for the `landed` deliveries (practice, quarter, manifest sha256):
    those of the oldest quarter that has any without a screening run (or whose batch refused
    another delivery), once the older quarters' runs are done."""
    screenings = _latest(instance, "screening", profile)
    due: dict[str, list[Entry]] = {}
    busy: set[str] = set()
    for practice_id, delivery_quarter, sha in landed:
        entry = (practice_id, delivery_quarter, sha[:16])
        record = screenings.get(entry)
        if record is None:
            due.setdefault(delivery_quarter, []).append(entry)
        elif not _finished(record):
            busy.add(delivery_quarter)
        elif _loaded_by_a_refusing_batch(record, entry):
            due.setdefault(delivery_quarter, []).append(entry)
    if not due:
        return Plan(waiting="every landed delivery has a screening run")
    oldest = min(due)
    if any(quarter_busy < oldest for quarter_busy in busy):
        return Plan(waiting=f"screening of {min(busy)} still running")
    return Plan(
        [
            batch_request("screening_job", "screening", batch, profile)
            for batch in batches(due[oldest], practice_order, parts)
        ]
    )


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
    parts: int = 1,
    quarter: str | None = None,
    now: float | None = None,
) -> Plan:
    """The model, outreach, region and feedback runs due now for the deliveries in `landing`."""
    now = time.time() if now is None else now
    landed = landed_in(landing, quarter)
    if not landed:
        return Plan(waiting=f"no deliveries in {landing}")
    practice_order = list(instance.get_dynamic_partitions("practice"))

    screenings = _latest(instance, "screening", profile)
    open_deliveries, last_end, screened = 0, 0.0, []
    for practice_id, delivery_quarter, sha in landed:
        entry = (practice_id, delivery_quarter, sha[:16])
        record = screenings.get(entry)
        if record is None or not _finished(record):
            open_deliveries += 1
            continue
        if _loaded_by_a_refusing_batch(record, entry):
            open_deliveries += 1  # screened in a run of its own next (plan_screening)
            continue
        last_end = max(last_end, _end_time(record))
        if _succeeded(record):
            screened.append(entry)
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

    # the lists, a quarter at a time: a list carries over from the one of the quarter before
    model = model_label(instance)
    lists = _latest(instance, "outreach", profile, (MODEL,))
    unlisted: dict[str, list[Entry]] = {}
    busy_quarters: set[str] = set()
    for entry in screened:
        record = lists.get((*entry, model))
        if record is None:
            unlisted.setdefault(entry[1], []).append(entry)
            busy_quarters.add(entry[1])
        elif not _finished(record):
            busy_quarters.add(entry[1])
    requests: list[dg.RunRequest] = []
    if unlisted and not any(busy < min(unlisted) for busy in busy_quarters - set(unlisted)):
        oldest = min(unlisted)
        requests += [
            batch_request("outreach_job", "outreach", batch, profile, **{MODEL: model})
            for batch in batches(unlisted[oldest], practice_order, parts)
        ]

    regions = _latest(instance, "region", profile, (QUARTER, INPUTS))
    feedbacks = _latest(instance, "feedback", profile)
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
        stale: list[Entry] = []
        for practice_id, delivery_quarter, _ in screened:
            if delivery_quarter != region_quarter:
                continue
            own = _short(
                profile,
                model,
                *(item for item in screened if item[0] == practice_id and item[1] <= region_quarter),
            )
            if (practice_id, region_quarter, own) not in feedbacks:
                stale.append((practice_id, region_quarter, own))
        requests += [
            batch_request("feedback_job", "feedback", batch, profile)
            for batch in batches(stale, practice_order, parts)
        ]
    if requests:
        return Plan(requests)
    if busy_quarters:
        return Plan(
            waiting=f"lists or regional figures of {', '.join(sorted(busy_quarters))} are being written"
        )
    return Plan(waiting="every output is up to date")
