"""The omu home: one folder that holds the store, the outputs and Dagster's own storage.

    <home>/omu.duckdb            the DuckDB store (incl. table `quarantine`: every row kept aside)
    <home>/out/<quarter>/...     everything a person opens (lists, reports, dashboards; per delivery
                                 the report and quarantine.csv in deliveries/<practice_id>/)
    <home>/staging/              per-partition Parquet staged before the single-writer merge
    <home>/dagster/              DAGSTER_HOME: dagster.yaml (telemetry off) and run storage
    <home>/models/               saved risk models
    <home>/audit/access-log.jsonl  the copy of the access log (table access_log; omu/audit.py)
    <home>/config.yaml           optional settings (profiles to run, capacity per practice, retention, automation, ...)
    <home>/alerts/               one file per failed run, and alerts.log (pipelines/alerts.py)
    <home>/run.lock              held by the `omu run` (or `omu demo`) at work on this home, naming it

The default profile (omu-basis v1) writes to out/<quarter>/practices/<practice_id>/ and
out/<quarter>/region/; every other profile to a sub-folder <name>-v<version>/ of those.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from omu.contract import checked_practice_id
from omu.resources import DAGSTER_YAML

DEFAULT_HOME = Path("omu-home")
DAGSTER_YAML_TEMPLATE = DAGSTER_YAML


@dataclass(frozen=True)
class OmuHome:
    root: Path

    @classmethod
    def resolve(cls, home: str | os.PathLike | None = None) -> OmuHome:
        """--home beats $OMU_HOME beats ./omu-home."""
        chosen = home or os.environ.get("OMU_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def database(self) -> Path:
        return self.root / "omu.duckdb"

    @property
    def out(self) -> Path:
        return self.root / "out"

    @property
    def staging(self) -> Path:
        return self.root / "staging"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def run_lock_file(self) -> Path:
        return self.root / "run.lock"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def config_file(self) -> Path:
        return self.root / "config.yaml"

    def quarter_out(self, quarter: str) -> Path:
        return self.out / str(quarter)

    def delivery_out(self, quarter: str, practice_id: str) -> Path:
        return self.quarter_out(quarter) / "deliveries" / checked_practice_id(practice_id)

    def practice_out(self, quarter: str, practice_id: str, profile_folder: str = "") -> Path:
        """profile_folder: '' for the default profile (today's paths), else e.g. 'astma-signaal-v1'."""
        return self.quarter_out(quarter) / "practices" / checked_practice_id(practice_id) / profile_folder

    def region_out(self, quarter: str, profile_folder: str = "") -> Path:
        return self.quarter_out(quarter) / "region" / profile_folder

    def prepare(self) -> OmuHome:
        """Create the folders and Dagster's instance config; point Dagster and GX at them, analytics off."""
        for folder in (self.root, self.out, self.staging, self.dagster_home, self.models):
            folder.mkdir(parents=True, exist_ok=True)
        instance_yaml = self.dagster_home / "dagster.yaml"
        if not instance_yaml.exists() or instance_yaml.read_bytes() != DAGSTER_YAML_TEMPLATE.read_bytes():
            shutil.copyfile(DAGSTER_YAML_TEMPLATE, instance_yaml)
        os.environ["DAGSTER_HOME"] = str(self.dagster_home)
        disable_analytics()
        return self


class HomeBusy(RuntimeError):
    """Another `omu run` holds the home."""


@contextmanager
def run_lock(
    home: OmuHome, *, wait: bool = False, on_wait: Callable[[str], None] | None = None
) -> Iterator[None]:
    """One `omu run` per home at a time: an exclusive lock (fcntl.flock, released by the kernel when
    the process ends, also on a kill) on <home>/run.lock, which names its holder. A second run is
    refused with HomeBusy naming the holder, or with wait=True waits for it (on_wait hears whom)."""
    home.root.mkdir(parents=True, exist_ok=True)
    with home.run_lock_file.open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            if not wait:
                raise HomeBusy(
                    f"the omu home {home.root} is in use by {holder}; wait for it to finish "
                    "or start this run with --wait"
                ) from None
            if on_wait:
                on_wait(holder)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
        handle.seek(0)
        handle.truncate()
        handle.write(f"omu run (pid {os.getpid()} on {socket.gethostname()}, since {started})\n")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            handle.flush()
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def disable_analytics() -> None:
    """Nothing leaves the machine. Dagster's telemetry is switched off by the dagster.yaml that
    prepare() puts in DAGSTER_HOME (Dagster has no environment switch for it); GX reads this one."""
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
