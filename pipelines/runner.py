"""`omu run` and `omu demo`: the daemon's graph, executed without a daemon.

No phase loop of its own: each round evaluates the same sensors the daemon evaluates — first the
landing sensor, then the chain plan (pipelines/automation.py) — and executes the runs they
request as real Dagster runs on the persistent instance in the omu home, with the same tags and
run keys, so the UI shows one history and the daemon never repeats what `omu run` did (nor the
other way round). Rounds repeat until nothing is due. Runs of a round — a quarter's batches of
practices (pipelines/automation.py) — go side by side in worker processes (config.yaml
`automation.workers`, default 2), in request order and never two runs of one practice at once, the
rule of the daemon's run queue (dagster.yaml). The only difference: `omu run` skips the quiet
period, since nothing lands while it runs.
"""

from __future__ import annotations

import atexit
import concurrent.futures as futures
import functools
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from omu.config import load_config
from omu.home import OmuHome
from omu.pipelines.alerts import failure_text, run_partitions, write_alert
from omu.pipelines.automation import QUARTER, STEP, entries_of, landed_in, model_label, plan_chain
from omu.pipelines.sensors import landing_sensor, profile_label, screening_requests
from omu.quarters import Quarter

# The run's full event log stays in Dagster's storage (see the UI); the terminal gets warnings.
QUIET_LOGS = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
RUN_KEY_TAG = "dagster/run_key"
SENSOR_NAME_TAG = "dagster/sensor_name"
MODEL = "model"  # the practice column of the model step in the summary
REGION = "regio"  # the practice column of a region step in the summary
DESCRIPTIONS = {
    "screening_job": "ingest and screening",
    "model_job": "risk model: train or load",
    "outreach_job": "outreach list",
    "region_job": "regional indicators and dashboard",
    "feedback_job": "feedback report",
}


@dataclass
class RunOutcome:
    job: str
    practice_id: str  # the practice, a batch's range ('P0001..P0005'), 'model' or 'regio'
    quarter: str
    success: bool
    run_id: str
    message: str = ""
    practices: tuple[str, ...] = ()  # every practice of the run


@dataclass
class ChainSummary:
    home: OmuHome
    runs: list[RunOutcome] = field(default_factory=list)
    outputs: dict[str, Path] = field(default_factory=dict)
    waiting: str = ""  # why the last plan requested nothing more
    unstarted: set[str] = field(
        default_factory=set
    )  # run keys of requests that failed before their run began

    @property
    def success(self) -> bool:
        return all(outcome.success for outcome in self.runs)

    def failed(self, practice_id: str, quarter: str) -> bool:
        return any(not o.success for o in self.runs if practice_id in o.practices and o.quarter == quarter)


def failure_message(result: dg.ExecuteInProcessResult) -> str:
    """The description of the first step failure (a refusal carries its reasons there)."""
    return failure_text(result.all_events)


def select_deliveries(landing: Path, quarter: str | None) -> list[tuple[str, str]]:
    """The landed (practice, quarter)s, oldest quarter first; only `quarter`'s when given."""
    wanted = str(Quarter.parse(quarter)) if quarter else None
    return [(practice_id, q) for practice_id, q, _ in landed_in(landing, wanted)]


def step_count(landing: Path, quarter: str | None, workers: int = 2) -> int:
    """Runs a first `omu run` makes (about: a refused delivery adds one): per quarter its
    screening, list and feedback batches (up to `workers` each) and a region run; the model."""
    deliveries = select_deliveries(landing, quarter)
    per_quarter: dict[str, int] = {}
    for _, delivery_quarter in deliveries:
        per_quarter[delivery_quarter] = per_quarter.get(delivery_quarter, 0) + 1
    return sum(3 * min(workers, n) + 1 for n in per_quarter.values()) + 1


# --- one run, in this process or a worker ------------------------------------------------------

_definitions: dict[tuple, dg.Definitions] = {}


def execute_run(
    home: str, landing: str, profile: str | None, job_name: str, partition: str | None, tags: dict[str, str]
) -> tuple[bool, str, str]:
    """Execute one requested run on the omu home's instance: (success, run id, failure message)."""
    from omu.pipelines.definitions import build_definitions

    partition_key = None
    if partition:
        partition_key = (
            dg.MultiPartitionKey(dict(zip(("practice", "quarter"), partition.split("|"), strict=True)))
            if "|" in partition
            else partition
        )
    # The instance is entered for the run: Dagster then resolves its definitions' state through
    # this live instance, never through one an earlier caller in this process has let go of.
    with dg.DagsterInstance.get() as instance:
        key = (home, landing, profile)
        if key not in _definitions:
            _definitions[key] = build_definitions(OmuHome.resolve(home), landing, profile)
        job = _definitions[key].resolve_job_def(job_name)
        result = job.execute_in_process(
            partition_key=partition_key,
            run_config=QUIET_LOGS,
            instance=instance,
            raise_on_error=False,
            tags=tags,
        )
    return result.success, result.run_id, "" if result.success else failure_message(result)


def _worker_init(dagster_home: str) -> None:
    os.environ["DAGSTER_HOME"] = dagster_home
    from omu.home import disable_analytics

    disable_analytics()


# The worker processes of the last chain, kept for the next chain on the same Dagster home in this
# process (tests and benchmarks run several): each worker pays its imports (~8 s) once.
# Kept only while the settings a worker took at its start are the same (its environment included).
_kept: dict[tuple, futures.ProcessPoolExecutor] = {}


def _workers_for(dagster_home: str, workers: int) -> futures.ProcessPoolExecutor:
    environment = tuple(
        sorted((k, v) for k, v in os.environ.items() if k.startswith(("OMU_", "DAGSTER_", "GX_", "TMP")))
    )
    key = (dagster_home, workers, environment)
    if key not in _kept:
        close_workers()  # one set of workers at a time
        # spawn: a fresh interpreter per worker (forking a process that holds DuckDB and
        # Dagster's threads is unsafe); each pays its imports once and then runs many runs
        _kept[key] = futures.ProcessPoolExecutor(
            workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
            initargs=(dagster_home,),
        )
    return _kept[key]


def close_workers() -> None:
    """End the kept worker processes (at exit; or to count their CPU time, as the benchmarks do)."""
    for pool in _kept.values():
        pool.shutdown(wait=True, cancel_futures=True)
    _kept.clear()


atexit.register(close_workers)


class RunPool:
    """Executes a round of requested runs: several at a time, one per practice, in request order."""

    def __init__(self, home: OmuHome, landing: Path, profile: str | None, workers: int):
        self.args = (str(home.root), str(landing), profile)
        self.home = home
        self.workers = max(1, workers)

    def __enter__(self) -> RunPool:
        return self

    def __exit__(self, error_type, *_) -> None:
        if error_type is not None:  # interrupted or broken: no worker is kept
            close_workers()

    def _submit(self, job: str, partition: str | None, tags: dict[str, str]) -> futures.Future:
        pool = _workers_for(str(self.home.dagster_home), self.workers)
        return pool.submit(execute_run, *self.args, job, partition, tags)

    def execute(
        self,
        batch: list[tuple[str, dg.RunRequest]],
        summary: ChainSummary,
        on_step: Callable[[str], None] | None,
    ) -> None:
        pending = list(batch)
        if self.workers == 1 or len(pending) == 1:
            for sensor, request in pending:
                job, partition, tags = self._call(sensor, request)
                self._record(
                    sensor,
                    request,
                    summary,
                    on_step,
                    functools.partial(execute_run, *self.args, job, partition, tags),
                )
            return
        running: dict[futures.Future, tuple[str, dg.RunRequest]] = {}
        finished: dict[int, futures.Future] = {}
        while pending or running:
            busy = {practice for _, r in running.values() for practice in _practices(r)}
            for item in list(pending):
                if len(running) >= self.workers:
                    break
                practices = set(_practices(item[1]))
                if practices & busy:
                    continue
                pending.remove(item)
                busy |= practices
                if on_step:
                    on_step(_describe(item[1]))
                running[self._submit(*self._call(*item))] = item
            done, _ = futures.wait(running, return_when=futures.FIRST_COMPLETED)
            for future in done:
                finished[batch.index(running.pop(future))] = future
        for index, future in sorted(finished.items()):  # the summary lists runs in request order
            self._record(*batch[index], summary, None, future.result)

    @staticmethod
    def _call(sensor: str, request: dg.RunRequest) -> tuple[str, str | None, dict[str, str]]:
        partition = request.partition_key
        if isinstance(partition, dg.MultiPartitionKey):
            keys = partition.keys_by_dimension
            partition = f"{keys['practice']}|{keys['quarter']}"
        tags = {**request.tags, RUN_KEY_TAG: request.run_key or "", SENSOR_NAME_TAG: sensor}
        return _job(request), partition, tags

    def _record(
        self,
        sensor: str,
        request: dg.RunRequest,
        summary: ChainSummary,
        on_step: Callable[[str], None] | None,
        execute: Callable[[], tuple[bool, str, str]],
    ) -> None:
        if on_step:
            on_step(_describe(request))
        job = _job(request)
        try:
            success, run_id, message = execute()
        except Exception as error:  # a worker died: report it like a failed run
            success, run_id, message = False, "", f"{type(error).__name__}: {error}"
            close_workers()  # and start the next round with fresh workers
        step = request.tags.get(STEP, "")
        practices = _practices(request)
        practice = _practice_label(practices) or (MODEL if step == "model" else REGION)
        quarter = request.tags.get(QUARTER, "")
        summary.runs.append(RunOutcome(job, practice, quarter, success, run_id, message, practices))
        if not run_id and request.run_key:
            summary.unstarted.add(request.run_key)
        if not success:
            write_alert(
                self.home,
                job=job,
                run_id=run_id or "no-run",
                message=message,
                partition=run_partitions(request.tags) or quarter or None,
            )
        elif step == "region" and quarter >= summary.outputs.get("dashboard", Path("")).parent.parent.name:
            summary.outputs["dashboard"] = (
                self.home.region_out(quarter) / "dashboard.html"
            )  # the newest quarter's


def _practices(request: dg.RunRequest) -> tuple[str, ...]:
    """The practices a run handles (none: the model, a region run)."""
    return tuple(entry[0] for entry in entries_of(request.tags))


def _practice_label(practices: tuple[str, ...]) -> str:
    return practices[0] if len(practices) == 1 else f"{practices[0]}..{practices[-1]}" if practices else ""


def _job(request: dg.RunRequest) -> str:
    return request.job_name or "screening_job"  # the landing sensor's requests name no job: its own


def _describe(request: dg.RunRequest) -> str:
    where = " ".join(filter(None, (_practice_label(_practices(request)), request.tags.get(QUARTER))))
    return f"{where + ': ' if where else ''}{DESCRIPTIONS[_job(request)]}"


# --- the rounds ---------------------------------------------------------------------------------


def _settings(home: OmuHome, landing: Path, profile: str | None):
    from omu.pipelines.resources import OmuSettings

    return OmuSettings(home=str(home.root), landing=str(landing), profile=profile or "")


def _landing_requests(
    instance: dg.DagsterInstance, settings, quarter: str | None
) -> list[tuple[str, dg.RunRequest]]:
    """What the landing sensor requests (its own function; only `quarter`'s deliveries with
    --quarter), without those that have a run already (the daemon's run-key rule)."""
    requests, additions, _ = screening_requests(instance, settings, quarter=quarter)
    for addition in additions:
        instance.add_dynamic_partitions(addition.partitions_def_name, list(addition.partition_keys))
    due = []
    for request in requests:
        if instance.get_run_ids(
            dg.RunsFilter(tags={RUN_KEY_TAG: request.run_key or "", SENSOR_NAME_TAG: landing_sensor.name}),
            limit=1,
        ):
            continue
        due.append((landing_sensor.name, request))
    return due


def run_chain(
    home: OmuHome,
    landing: Path,
    *,
    quarter: str | None = None,
    profile: str | None = None,
    on_step: Callable[[str], None] | None = None,
    workers: int | None = None,
) -> ChainSummary:
    """Execute what the sensors request, round after round, until nothing is due."""
    home.prepare()
    landing = Path(landing).resolve()
    wanted = str(Quarter.parse(quarter)) if quarter else None
    summary = ChainSummary(home)
    if not select_deliveries(landing, wanted):
        return summary
    instance = dg.DagsterInstance.get()
    settings = _settings(home, landing, profile)
    parts = load_config(home.config_file).workers  # the batches per quarter, as the sensors plan them
    workers = workers or parts
    with RunPool(home, landing, profile, workers) as pool:
        while True:
            batch = _landing_requests(instance, settings, wanted)
            if not batch:
                plan = plan_chain(
                    instance,
                    landing,
                    profile=profile_label(settings),
                    quiet_period=0,
                    parts=parts,
                    quarter=wanted,
                )
                summary.waiting = plan.waiting
                batch = [("chain_sensor", request) for request in plan.requests]
            # a request whose run could not even start (no run in the history, so the plan asks
            # again) is tried once per `omu run`; its alert says why
            due = [item for item in batch if item[1].run_key not in summary.unstarted]
            if not due:
                if batch:
                    summary.waiting = f"{len(batch)} run(s) could not start; see {home.root / 'alerts'}"
                break
            pool.execute(due, summary, on_step)
            if any(r.job == "model_job" for r in summary.runs[-len(due) :]):
                _note_model(instance, summary)
    return summary


def _note_model(instance: dg.DagsterInstance, summary: ChainSummary) -> None:
    event = instance.get_latest_materialization_event(dg.AssetKey("risk_model"))
    metadata = event.asset_materialization.metadata if event and event.asset_materialization else {}
    if "model_dir" in metadata and model_label(instance) != "none":
        summary.outputs["risk model"] = Path(str(metadata["model_dir"].value))
    else:
        summary.outputs.pop("risk model", None)
