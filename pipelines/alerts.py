"""Alerts the data lead sees: one file per failed run under <home>/alerts/, and a line in the log.

Written by `run_failure_alert` (a run-failure sensor under the daemon) and by `omu run` for the
runs it executes itself. An alert names the job, the partition (practice and quarter; the range of
a batch run) and the failure's own description; omu's failure messages name files, lines and
columns, never a patient's values, so none end up here either.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path

import dagster as dg

from omu.file_writing import write_text_atomically
from omu.home import OmuHome
from omu.pipelines.partitions import RANGE_END, RANGE_START

log = logging.getLogger("omu.alerts")
MAX_MESSAGE = 2000


def failure_text(events: Iterable[dg.DagsterEvent]) -> str:
    """The description of the first step failure (a refusal carries its reasons there)."""
    for event in events:
        if event.event_type == dg.DagsterEventType.STEP_FAILURE:
            data = event.step_failure_data
            if data.user_failure_data and data.user_failure_data.description:
                return data.user_failure_data.description
            if data.error:
                cause = data.error.cause or data.error
                return (
                    f"{cause.cls_name}: {cause.message.strip()}" if cause.cls_name else cause.message.strip()
                )
    return "the run failed"


def write_alert(home: OmuHome, *, job: str, run_id: str, partition: str | None, message: str) -> Path:
    folder = home.root / "alerts"
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    message = message if len(message) <= MAX_MESSAGE else message[:MAX_MESSAGE] + " …"
    path = folder / f"{now:%Y%m%dT%H%M%SZ}-{job}-{run_id[:8]}.md"
    write_text_atomically(
        path,
        f"# omu: {job} failed\n\n- when: {now:%Y-%m-%d %H:%M:%S} UTC\n- run: {run_id}\n"
        f"- partition: {partition or '-'}\n\n{message}\n",
    )
    summary = message.splitlines()[0] if message else ""
    with (folder / "alerts.log").open("a", encoding="utf-8") as handle:
        handle.write(f"{now:%Y-%m-%dT%H:%M:%SZ}\t{job}\t{partition or '-'}\t{run_id}\t{summary}\n")
    log.error("omu alert: %s failed (%s, run %s): %s — %s", job, partition or "-", run_id[:8], summary, path)
    return path


def run_partitions(tags: Mapping[str, str]) -> str | None:
    """The partition of a run ('P0001|2026Q3', '2026Q3'), or the range of a batch run
    ('P0001|2026Q3..P0015|2026Q3')."""
    start, end = tags.get(RANGE_START), tags.get(RANGE_END)
    if start and end:
        return start if start == end else f"{start}..{end}"
    return tags.get("dagster/partition")


def build_alert_sensor(home: OmuHome, default_status: dg.DefaultSensorStatus) -> dg.SensorDefinition:
    @dg.run_failure_sensor(
        name="run_failure_alert",
        default_status=default_status,
        minimum_interval_seconds=15,
        description="Writes <home>/alerts/<time>-<job>-<run>.md and a log line for every "
        "failed run (after its retries).",
    )
    def run_failure_alert(context: dg.RunFailureSensorContext) -> None:
        run = context.dagster_run
        path = write_alert(
            home,
            job=run.job_name,
            run_id=run.run_id,
            partition=run_partitions(run.tags),
            message=failure_text(context.get_step_failure_events())
            if context.get_step_failure_events()
            else (context.failure_event.message or "the run failed"),
        )
        context.log.error(f"{run.job_name} failed; alert written to {path}")

    return run_failure_alert
