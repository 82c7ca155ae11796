"""Resources the assets receive: the DuckDB store and the omu settings (home, landing, profile)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from omu import store
from omu.config import load_config
from omu.home import OmuHome
from omu.ingest.load import DEFAULT_RETENTION
from omu.screening.profile import Profile, load_profile, load_profiles


class DuckDBStore(dg.ConfigurableResource):
    """The omu store: one DuckDB file in the omu home, opened under the single-writer lock."""

    database: str
    memory_limit: str | None = None

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with store.connect(Path(self.database), memory_limit=self.memory_limit) as conn:
            yield conn


class OmuSettings(dg.ConfigurableResource):
    """Where omu lives and reads from, and the screening profile(s) of the run: `profile` (--profile,
    $OMU_PROFILE) runs that one profile; empty = the profiles config.yaml names (default omu-basis v1)."""

    home: str
    landing: str = ""
    profile: str = ""
    retention: int = DEFAULT_RETENTION

    def omu_home(self) -> OmuHome:
        return OmuHome.resolve(self.home)

    def screening_profiles(self) -> list[Profile]:
        """Every profile to run side by side; the first is the primary one (the risk model's)."""
        if self.profile:
            return [load_profile(self.profile)]
        home = self.omu_home()
        return load_profiles(load_config(home.config_file).profiles, base=home.root)

    def screening_profile(self) -> Profile:
        return self.screening_profiles()[0]

    def delivery_dir(self, practice_id: str, quarter: str) -> Path:
        if not self.landing:
            raise dg.Failure(
                "no landing folder configured: set OMU_LANDING or pass --landing", allow_retries=False
            )
        from omu.contract import checked_practice_id

        return Path(self.landing) / checked_practice_id(practice_id) / quarter
