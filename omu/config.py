"""Optional settings in <omu home>/config.yaml. Example:

outreach:
  capacity:            # patients a practice can call per quarter; the rest rolls over
    default: 40
    P0001: 25
retention: 4           # raw deliveries kept per practice
profiles:              # screening profiles run side by side (default: omu-basis-v1 only)
  - omu-basis-v1       # a file in clinical/profiles/ (without .yaml), or a path to a YAML
  - astma-signaal-v1
automation:
  quiet_period: 60     # seconds without a finished screening before the quarter counts as in
  workers: 2           # a quarter's deliveries in this many batch runs, side by side
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    pass


@dataclass
class OmuConfig:
    capacity: dict[str, int | None] = field(default_factory=dict)
    retention: int | None = None
    profiles: list[str] = field(default_factory=list)  # empty = the default profile only
    quiet_period: int = 60
    workers: int = 2

    def capacity_for(self, practice_id: str) -> int | None:
        return self.capacity.get(practice_id, self.capacity.get("default"))


def load_config(path: Path) -> OmuConfig:
    if not path.is_file():
        return OmuConfig()
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from error
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping")
    capacity = (raw.get("outreach") or {}).get("capacity") or {}
    if not isinstance(capacity, dict):
        raise ConfigError(f"{path}: outreach.capacity maps practice ids (or default) to a number")
    for key, value in capacity.items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
            raise ConfigError(f"{path}: outreach.capacity.{key} must be a whole number of 0 or more")
    retention = raw.get("retention")
    if retention is not None and (not isinstance(retention, int) or retention < 1):
        raise ConfigError(f"{path}: retention must be a whole number of 1 or more")
    profiles = raw.get("profiles") or []
    if not isinstance(profiles, list) or not all(isinstance(p, str) and p.strip() for p in profiles):
        raise ConfigError(
            f"{path}: profiles is a list of profile names (files in clinical/profiles/) or paths"
        )
    if len(set(profiles)) != len(profiles):
        raise ConfigError(f"{path}: profiles names a profile twice")
    automation = raw.get("automation") or {}
    if not isinstance(automation, dict):
        raise ConfigError(f"{path}: automation maps quiet_period and workers to numbers")
    quiet_period = automation.get("quiet_period", 60)
    workers = automation.get("workers", 2)
    for key, value, least in (("quiet_period", quiet_period, 0), ("workers", workers, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"{path}: automation.{key} must be a whole number of {least} or more")
    return OmuConfig(
        capacity={str(k): v for k, v in capacity.items()},
        retention=retention,
        profiles=[p.strip() for p in profiles],
        quiet_period=quiet_period,
        workers=workers,
    )
