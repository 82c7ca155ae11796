"""Resources the assets receive: the DuckDB store and the omu settings (home, landing, profile)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from omu import store
from omu.home import OmuHome
from omu.ingest.load import DEFAULT_RETENTION
from omu.screening.profile import DEFAULT_PROFILE, Profile, load_profile


class DuckDBStore(dg.ConfigurableResource):
    """The omu store: one DuckDB file in the omu home, opened under the single-writer lock."""

    database: str
    memory_limit: str | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with store.connect(Path(self.database), memory_limit=self.memory_limit) as conn:
            yield conn


class OmuSettings(dg.ConfigurableResource):
    """Where omu lives and reads from, and the screening profile of the run."""

    home: str
    landing: str = ""
    profile: str = str(DEFAULT_PROFILE)
    retention: int = DEFAULT_RETENTION

    def omu_home(self) -> OmuHome:
        return OmuHome.resolve(self.home)

    def screening_profile(self) -> Profile:
        return load_profile(self.profile)

    def delivery_dir(self, practice_id: str, quarter: str) -> Path:
        if not self.landing:
            raise dg.Failure("no landing folder configured: set OMU_LANDING or pass --landing", allow_retries=False)
        return Path(self.landing) / practice_id / quarter
