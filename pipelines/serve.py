"""Supervise Dagster's processes for `omu serve` (daemon + webserver) and `omu ui` (dagster dev).

Each child starts in its own process group (session), so everything it starts — code servers,
run workers — can be stopped together. SIGTERM or Ctrl-C (SIGINT) stops every group: SIGTERM
first, SIGKILL for what is left after the grace period, all within 30 s. If one child ends by
itself, the others are stopped too and the exit code says so.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from omu.home import OmuHome

GRACE_SECONDS = 20.0


def dagster_environment(home: OmuHome, landing: Path, *, automation: bool) -> dict[str, str]:
    environment = {
        **os.environ,
        "OMU_HOME": str(home.root),
        "OMU_LANDING": str(landing.resolve()),
        "DAGSTER_HOME": str(home.dagster_home),
    }
    if automation:
        environment["OMU_AUTOMATION"] = "on"
    return environment


def initialise_instance(home: OmuHome) -> None:
    """Create Dagster's storage (run, event log, schedule databases) before the daemon and the
    webserver start: on a fresh home both would otherwise migrate the same new SQLite files at
    once and leave them with two schema heads."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        instance.get_runs(limit=1)
        instance.all_instigator_state()
        instance.get_latest_materialization_event(dg.AssetKey("risk_model"))


def fail_interrupted_runs(home: OmuHome) -> int:
    """Runs left started when the service last stopped cannot be running now: mark them failed, so
    the chain does not wait for them and the daemon re-executes them once (dagster.yaml run_retries)."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        left = instance.get_runs(
            dg.RunsFilter(
                statuses=[
                    dg.DagsterRunStatus.STARTING,
                    dg.DagsterRunStatus.STARTED,
                    dg.DagsterRunStatus.CANCELING,
                ]
            )
        )
        for run in left:
            instance.report_run_failed(run, "interrupted: omu serve stopped while this run was running")
    return len(left)


def _script(name: str) -> str:
    return str(Path(sys.executable).with_name(name))


def serve_commands(host: str, port: int) -> dict[str, list[str]]:
    return {
        "dagster-daemon": [_script("dagster-daemon"), "run", "-m", "omu.pipelines.definitions"],
        "dagster-webserver": [
            _script("dagster-webserver"),
            "-m",
            "omu.pipelines.definitions",
            "-h",
            host,
            "-p",
            str(port),
        ],
    }


def ui_commands(host: str, port: int) -> dict[str, list[str]]:
    return {
        "dagster dev": [
            _script("dagster"),
            "dev",
            "-m",
            "omu.pipelines.definitions",
            "-h",
            host,
            "-p",
            str(port),
        ]
    }


def stop_groups(processes: dict[str, subprocess.Popen], grace_seconds: float = GRACE_SECONDS) -> None:
    """SIGTERM every process group, then SIGKILL whatever of them is still there after the grace."""
    for process in processes.values():
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    for process in processes.values():
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
    time.sleep(0.5)  # let the groups' last members (code servers, run workers) follow their leader
    for process in processes.values():
        _signal_group(process, signal.SIGKILL)  # no-op when the whole group has already gone
        process.wait()


def _signal_group(process: subprocess.Popen, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def supervise(commands: dict[str, list[str]], environment: dict[str, str], cwd: Path, say=print) -> int:
    """Run the commands until SIGTERM/SIGINT or until one of them ends; then stop them all."""
    stop = threading.Event()
    received: list[int] = []

    def request_stop(signum, _frame) -> None:
        received.append(signum)
        stop.set()

    previous = {signum: signal.signal(signum, request_stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    processes: dict[str, subprocess.Popen] = {}
    ended = None
    try:
        for name, command in commands.items():
            processes[name] = subprocess.Popen(command, env=environment, cwd=cwd, start_new_session=True)
        while not stop.wait(0.5):
            ended = next((name for name, process in processes.items() if process.poll() is not None), None)
            if ended:
                say(f"{ended} stopped (exit code {processes[ended].returncode}); stopping the rest")
                break
    finally:
        if received:
            say(f"received {signal.Signals(received[0]).name}; stopping {', '.join(processes)}")
        stop_groups(processes)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return 1 if ended else 0
