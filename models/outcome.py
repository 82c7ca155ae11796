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
import yaml

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


def _whole(value, where: str, key: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise OutcomeError(f"{where}: {key} must be a whole number of {minimum} or more, not {value!r}")
    return value


def load_outcome(path: Path | str = DEFAULT_OUTCOME, codelists_dir: Path = CODELISTS_DIR) -> Outcome:
    """Read and check an outcome definition; a broken one is refused with a message naming what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise OutcomeError(f"no outcome definition at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise OutcomeError(f"{path.name} is not valid YAML: {error}") from error
    if not isinstance(raw, dict):
        raise OutcomeError(f"{path.name}: an outcome is a mapping with name, version, window_days and codelists")
    for key in ("name", "version", "window_days"):
        if key not in raw:
            raise OutcomeError(f"{path.name}: missing {key!r}")
    contact_kinds = raw.get("contact_kinds")
    episode_codelist = raw.get("episode_codelist")
    if not contact_kinds and not episode_codelist:
        raise OutcomeError(f"{path.name}: needs contact_kinds and/or episode_codelist")
    outcome = Outcome(
        name=str(raw["name"]),
        version=_whole(raw["version"], path.name, "version", 1),
        window_days=_whole(raw["window_days"], path.name, "window_days", 1),
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
