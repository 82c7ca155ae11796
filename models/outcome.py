"""The risk model's outcome, as data: clinical/outcomes/<name>-v<version>.yaml.

An outcome names a window (days after the reference date R: R < event date <= R + window_days)
and the codelists whose events count: contact kinds (contacts.kind) and episode codes (ICPC,
sub-codes count; the episode's start_date must lie in the window). The SQL that applies it is
sql/model/outcome.sql; this module only reads and checks the definition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from omu.file_reading import load_yaml_mapping, whole_number
from omu.screening.profile import CLINICAL_DIR, CODELISTS_DIR, ProfileError, load_codelist

OUTCOMES_DIR = CLINICAL_DIR / "outcomes"
DEFAULT_OUTCOME = OUTCOMES_DIR / "unplanned-care-v1.yaml"


class OutcomeError(ValueError):
    """An outcome definition that cannot be used, with a message saying where and why."""


@dataclass
class Outcome:
    name: str
    version: int
    window_days: int
    contact_kinds: str | None  # codelist name (contact_kind codes) or None
    episode_codelist: str | None  # codelist name (ICPC) or None
    description: str = ""
    path: Path | None = None
    codelists: dict[str, pl.DataFrame] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name}-v{self.version}"

    def codes_frame(self) -> pl.DataFrame:
        """(role, code): role 'contact_kind' or 'episode', for sql/model/*.sql."""
        frames = []
        for role, name in (("contact_kind", self.contact_kinds), ("episode", self.episode_codelist)):
            if name:
                frames.append(self.codelists[name].select(pl.lit(role).alias("role"), pl.col("code")))
        return pl.concat(frames)


def load_outcome(path: Path | str = DEFAULT_OUTCOME, codelists_dir: Path = CODELISTS_DIR) -> Outcome:
    """Read and check an outcome definition; a broken one is refused with a message naming what is wrong."""
    path = Path(path)
    raw = load_yaml_mapping(
        path, kind="outcome definition", required=("name", "version", "window_days"), error=OutcomeError
    )
    contact_kinds = raw.get("contact_kinds")
    episode_codelist = raw.get("episode_codelist")
    if not contact_kinds and not episode_codelist:
        raise OutcomeError(f"{path.name}: needs contact_kinds and/or episode_codelist")
    outcome = Outcome(
        name=str(raw["name"]),
        version=whole_number(raw["version"], path.name, "version", minimum=1, error=OutcomeError),
        window_days=whole_number(raw["window_days"], path.name, "window_days", minimum=1, error=OutcomeError),
        contact_kinds=str(contact_kinds) if contact_kinds else None,
        episode_codelist=str(episode_codelist) if episode_codelist else None,
        description=str(raw.get("description", "")),
        path=path,
    )
    try:
        for name, system in ((outcome.contact_kinds, "contact_kind"), (outcome.episode_codelist, "icpc")):
            if name:
                outcome.codelists[name] = load_codelist(name, system, codelists_dir)
    except ProfileError as error:
        raise OutcomeError(f"{path.name}: {error}") from error
    return outcome
