"""Screening profiles and codelists: clinical definitions as data, loaded and checked here.

A profile (YAML in clinical/profiles/) names its characteristics; each characteristic is one or
more criteria that must all hold (a criterion with `absent: true` must not hold). Every
criterion type has its own set-based SQL in sql/screening/criteria/<type>.sql, so a new profile
can combine them freely without code. Codelists are CSV (code, description, source; plus value
for determinations) in clinical/codelists/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from omu import contract
from omu.file_reading import load_yaml_mapping, whole_number
from omu.resources import CLINICAL_DIR

PROFILES_DIR = CLINICAL_DIR / "profiles"
CODELISTS_DIR = CLINICAL_DIR / "codelists"
DEFAULT_PROFILE = PROFILES_DIR / "omu-basis-v1.yaml"
# The default profile keeps the output paths it always had; every other one gets a folder of its own.
DEFAULT_PROFILE_KEY = ("omu-basis", 1)

_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# criterion type -> (coding system of its codelist or None, parameters it takes, parameters it needs)
CRITERION_TYPES: dict[str, tuple[str | None, set[str], set[str]]] = {
    "age_at_least": (None, {"years"}, {"years"}),
    "active_episode": ("icpc", {"codelist"}, {"codelist"}),
    "episode_started": ("icpc", {"codelist", "window_days"}, {"codelist", "window_days"}),
    "prescription": (
        "atc",
        {"codelist", "window_days", "min_count", "min_quantity"},
        {"codelist", "window_days"},
    ),
    "distinct_medicines": (None, {"window_days", "min_count"}, {"window_days", "min_count"}),
    "latest_determination": ("nhg45", {"codelist", "window_days"}, {"codelist"}),
    "contact": ("contact_kind", {"codelist", "window_days", "min_count", "max_count"}, {"window_days"}),
    "age_range": (None, {"min_years", "max_years"}, {"min_years", "max_years"}),
    "first_prescription": ("atc", {"codelist", "window_days"}, {"codelist"}),
    "either_of": (None, {"criteria"}, {"criteria"}),
}
# an either_of's own criteria are numbered 100 x its number + k (parent_no = its number)
SUB_CRITERIA = 100

# Code shapes per coding system, as ehrQL checks codelists when it loads them: the contract's
# patterns (a codelist code has the shape of a code in the delivery), one definition.
CODE_PATTERNS = {
    "icpc": re.compile(contract.ICPC_PATTERN),
    "atc": re.compile(contract.ATC_PATTERN),
    "nhg45": re.compile(contract.INTEGER_PATTERN),
    "contact_kind": re.compile("^(" + "|".join(map(re.escape, contract.CONTACT_KINDS)) + ")$"),
}


class ProfileError(ValueError):
    """A profile or codelist that cannot be used, with a message saying where and why."""


@dataclass(frozen=True)
class Criterion:
    type: str
    codelist: str | None = None
    window_days: int | None = None
    years: int | None = None
    min_count: int | None = None
    min_quantity: float | None = None
    absent: bool = False
    min_years: int | None = None
    max_years: int | None = None
    max_count: int | None = None
    criteria: tuple[Criterion, ...] = ()  # either_of: holds when one of these holds

    def describe(self) -> str:
        """In words, for `omu explain`."""
        window = (
            f" in the {self.window_days} days up to the reference date"
            if self.window_days is not None
            else ""
        )
        if self.type == "either_of":
            text = "either " + " or ".join(
                f"({c.describe().removeprefix('requires: ')})" for c in self.criteria
            )
            return f"excludes: {text}" if self.absent else f"requires: {text}"
        text = {
            "age_range": f"age {self.min_years} to {self.max_years}",
            "first_prescription": f"the first prescription ever seen in codelist {self.codelist} lies"
            + (window or " in the screened quarter"),
            "age_at_least": f"age at least {self.years}",
            "active_episode": f"an active episode in codelist {self.codelist}",
            "episode_started": f"an episode in codelist {self.codelist} started{window}",
            "prescription": f"a prescription in codelist {self.codelist}{window}",
            "distinct_medicines": f"at least {self.min_count} different medicines{window}",
            "latest_determination": f"the latest answer to a code in codelist {self.codelist} is listed there",
            "contact": f"a contact{' of a kind in ' + self.codelist if self.codelist else ''}{window}",
        }[self.type]
        if self.min_count and self.type in ("prescription", "contact"):
            text += f", at least {self.min_count}"
        if self.max_count is not None:
            text += f", at most {self.max_count}"
        if self.min_quantity is not None:
            text += f", at least {self.min_quantity:g} units in total"
        return f"excludes: {text}" if self.absent else f"requires: {text}"


@dataclass(frozen=True)
class NextStep:
    text: str  # Dutch, shown on the outreach list
    with_characteristic: str | None = None  # only when this other characteristic holds too


@dataclass(frozen=True)
class Characteristic:
    id: str
    label: str
    weight: int
    criteria: tuple[Criterion, ...]
    scored: bool = True  # notes are shown on the list but never scored
    next_steps: tuple[NextStep, ...] = ()


@dataclass
class Profile:
    name: str
    version: int
    threshold: int
    backfill_quarters: int
    characteristics: tuple[Characteristic, ...]
    description: str = ""
    path: Path | None = None
    codelists: dict[str, pl.DataFrame] = field(default_factory=dict)
    rule: str = "score"  # score: weights against the threshold; all: every characteristic must hold

    @property
    def key(self) -> str:
        """name-v<version>: how a profile is named in folders and on lists."""
        return f"{self.name}-v{self.version}"

    @property
    def output_folder(self) -> str:
        """'' for the default profile (today's paths), else <name>-v<version>."""
        return "" if (self.name, self.version) == DEFAULT_PROFILE_KEY else self.key

    @property
    def scored(self) -> tuple[Characteristic, ...]:
        return tuple(c for c in self.characteristics if c.scored)

    @property
    def characteristic_ids(self) -> tuple[str, ...]:
        return tuple(c.id for c in self.characteristics)

    def label(self, characteristic_id: str) -> str:
        return next(c.label for c in self.characteristics if c.id == characteristic_id)

    def characteristics_frame(self) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "characteristic": [c.id for c in self.characteristics],
                "label": [c.label for c in self.characteristics],
                "weight": [c.weight for c in self.characteristics],
                "scored": [c.scored for c in self.characteristics],
                "position": list(range(1, len(self.characteristics) + 1)),
            },
            schema={
                "characteristic": pl.String,
                "label": pl.String,
                "weight": pl.Int32,
                "scored": pl.Boolean,
                "position": pl.Int32,
            },
        )

    def criteria_frame(self) -> pl.DataFrame:
        def row(characteristic: str, number: int, criterion: Criterion, parent: int | None) -> dict:
            return {
                "characteristic": characteristic,
                "criterion_no": number,
                "parent_no": parent,
                "type": criterion.type,
                "codelist": criterion.codelist,
                "window_days": criterion.window_days,
                "years": criterion.years,
                "min_years": criterion.min_years,
                "max_years": criterion.max_years,
                "min_count": criterion.min_count,
                "max_count": criterion.max_count,
                "min_quantity": criterion.min_quantity,
                "absent": criterion.absent,
            }

        rows = []
        for c in self.characteristics:
            for number, criterion in enumerate(c.criteria, start=1):
                rows.append(row(c.id, number, criterion, None))
                rows += [
                    row(c.id, SUB_CRITERIA * number + k, sub, number)
                    for k, sub in enumerate(criterion.criteria, start=1)
                ]
        return pl.DataFrame(
            rows,
            schema={
                "characteristic": pl.String,
                "criterion_no": pl.Int32,
                "parent_no": pl.Int32,
                "type": pl.String,
                "codelist": pl.String,
                "window_days": pl.Int32,
                "years": pl.Int32,
                "min_years": pl.Int32,
                "max_years": pl.Int32,
                "min_count": pl.Int32,
                "max_count": pl.Int32,
                "min_quantity": pl.Float64,
                "absent": pl.Boolean,
            },
        )

    @property
    def criterion_types(self) -> set[str]:
        return {
            t
            for c in self.characteristics
            for criterion in c.criteria
            for t in (criterion.type, *(sub.type for sub in criterion.criteria))
        }

    def next_steps_frame(self) -> pl.DataFrame:
        rows = [
            {
                "characteristic": c.id,
                "step_no": number,
                "text": step.text,
                "with_characteristic": step.with_characteristic,
            }
            for c in self.characteristics
            for number, step in enumerate(c.next_steps, start=1)
        ]
        return pl.DataFrame(
            rows,
            schema={
                "characteristic": pl.String,
                "step_no": pl.Int32,
                "text": pl.String,
                "with_characteristic": pl.String,
            },
        )

    def codelist_frame(self) -> pl.DataFrame:
        frames = [
            frame.select(
                pl.lit(name).alias("codelist"),
                "code",
                pl.col("value").str.to_lowercase().str.strip_chars()
                if "value" in frame.columns
                else pl.lit(None, pl.String).alias("value"),
                "description",
            )  # names the medicine or episode on the lists
            for name, frame in self.codelists.items()
        ]
        return (
            pl.concat(frames)
            if frames
            else pl.DataFrame(
                schema={
                    "codelist": pl.String,
                    "code": pl.String,
                    "value": pl.String,
                    "description": pl.String,
                }
            )
        )


def load_codelist(name: str, system: str | None, codelists_dir: Path = CODELISTS_DIR) -> pl.DataFrame:
    path = codelists_dir / f"{name}.csv"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in codelists_dir.glob("*.csv")))
        raise ProfileError(f"unknown codelist {name!r}: no file {path} (known codelists: {known})")
    frame = pl.read_csv(path, infer_schema=False)
    missing = {"code", "description", "source"} - set(frame.columns)
    if missing:
        raise ProfileError(f"codelist {path.name} lacks the column(s) {', '.join(sorted(missing))}")
    if system == "nhg45" and "value" not in frame.columns:
        raise ProfileError(f"codelist {path.name} is used for determinations and needs a value column")
    frame = frame.with_columns(pl.col("code").str.strip_chars())
    if system in CODE_PATTERNS:
        pattern = CODE_PATTERNS[system]
        for line, code in enumerate(frame["code"].to_list(), start=2):
            if code is None or not pattern.match(code):
                raise ProfileError(
                    f"codelist {path.name}, line {line}: {code!r} is not a {system.upper()} code"
                )
    if frame.height == 0:
        raise ProfileError(f"codelist {path.name} is empty")
    return frame


def _int(value: Any, where: str, key: str, *, minimum: int = 0) -> int:
    return whole_number(value, where, key, minimum=minimum, error=ProfileError)


def _criterion(raw: Any, where: str, *, inside: bool = False) -> Criterion:
    if not isinstance(raw, dict) or "type" not in raw:
        raise ProfileError(f"{where}: each criterion needs a type")
    kind = raw["type"]
    if kind not in CRITERION_TYPES:
        raise ProfileError(
            f"{where}: unknown characteristic type {kind!r} (known: {', '.join(sorted(CRITERION_TYPES))})"
        )
    _, allowed, required = CRITERION_TYPES[kind]
    keys = set(raw) - {"type", "absent"}
    if keys - allowed:
        raise ProfileError(f"{where}: {kind} does not take {', '.join(sorted(keys - allowed))}")
    if required - keys:
        raise ProfileError(f"{where}: {kind} needs {', '.join(sorted(required - keys))}")
    window = raw.get("window_days")
    if window is not None:
        window = _int(window, where, "window_days")  # a negative window is refused here
    min_quantity = raw.get("min_quantity")
    if min_quantity is not None and (not isinstance(min_quantity, int | float) or min_quantity < 0):
        raise ProfileError(f"{where}: min_quantity must be a number of 0 or more")
    absent = raw.get("absent", False)
    if not isinstance(absent, bool):
        raise ProfileError(f"{where}: absent must be true or false")
    sub_criteria: tuple[Criterion, ...] = ()
    if kind == "either_of":
        if inside:
            raise ProfileError(f"{where}: an either_of cannot hold another either_of")
        listed = raw["criteria"]
        if not isinstance(listed, list) or len(listed) < 2 or len(listed) >= SUB_CRITERIA:
            raise ProfileError(f"{where}: either_of needs a list of at least two criteria")
        sub_criteria = tuple(
            _criterion(c, f"{where}, either_of {n}", inside=True) for n, c in enumerate(listed, start=1)
        )
    if inside and absent:  # evaluated from hits alone: "one of them holds" cannot read an absence
        raise ProfileError(f"{where}: a criterion inside either_of cannot be absent")
    min_years = _int(raw["min_years"], where, "min_years") if "min_years" in raw else None
    max_years = _int(raw["max_years"], where, "max_years") if "max_years" in raw else None
    if min_years is not None and max_years is not None and max_years < min_years:
        raise ProfileError(f"{where}: max_years ({max_years}) lies below min_years ({min_years})")
    min_count = _int(raw["min_count"], where, "min_count", minimum=1) if "min_count" in raw else None
    max_count = _int(raw["max_count"], where, "max_count") if "max_count" in raw else None
    if min_count is not None and max_count is not None and max_count < min_count:
        raise ProfileError(f"{where}: max_count ({max_count}) lies below min_count ({min_count})")
    return Criterion(
        type=kind,
        codelist=raw.get("codelist"),
        window_days=window,
        years=_int(raw["years"], where, "years") if "years" in raw else None,
        min_count=min_count,
        min_quantity=float(min_quantity) if min_quantity is not None else None,
        absent=absent,
        min_years=min_years,
        max_years=max_years,
        max_count=max_count,
        criteria=sub_criteria,
    )


def _next_steps(raw: Any, where: str) -> tuple[NextStep, ...]:
    if not isinstance(raw, list):
        raise ProfileError(f"{where}: next_steps must be a list")
    steps = []
    for item in raw:
        if isinstance(item, str):
            steps.append(NextStep(item))
        elif isinstance(item, dict) and isinstance(item.get("text"), str) and set(item) <= {"text", "with"}:
            steps.append(NextStep(item["text"], item.get("with")))
        else:
            raise ProfileError(f"{where}: a next step is a text or {{text: ..., with: <characteristic id>}}")
    return tuple(steps)


def load_profile(path: Path | str = DEFAULT_PROFILE, codelists_dir: Path = CODELISTS_DIR) -> Profile:
    """Read and check a profile; a broken one is refused with a message naming what is wrong."""
    path = Path(path)
    raw = load_yaml_mapping(
        path, kind="profile", required=("name", "version", "characteristics"), error=ProfileError
    )
    name = str(raw["name"])
    version = _int(raw["version"], path.name, "version", minimum=1)
    rule = raw.get("rule", "score")
    if rule not in ("score", "all"):
        raise ProfileError(
            f"{path.name}: rule is score (weights against the threshold) or all (every "
            f"characteristic must hold), not {rule!r}"
        )
    if rule == "score" and "threshold" not in raw:
        raise ProfileError(f"{path.name}: missing 'threshold'")
    threshold = _int(raw["threshold"], path.name, "threshold", minimum=1) if "threshold" in raw else None
    backfill = _int(raw.get("backfill_quarters", 4), path.name, "backfill_quarters")

    characteristics: list[Characteristic] = []
    seen: set[str] = set()
    for section, scored in (("characteristics", True), ("notes", False)):
        entries = raw.get(section) or []
        if not isinstance(entries, list):
            raise ProfileError(f"{path.name}: {section} must be a list")
        for index, entry in enumerate(entries, start=1):
            where = f"{path.name}, {section} #{index}"
            if not isinstance(entry, dict) or "id" not in entry:
                raise ProfileError(f"{where}: each entry needs an id")
            ident = str(entry["id"])
            where = f"{path.name}, {ident}"
            if not _IDENTIFIER.match(ident):
                raise ProfileError(
                    f"{where}: an id is lower-case letters, digits and _ (it becomes a column name)"
                )
            if ident in seen:
                raise ProfileError(f"{where}: the id is used twice")
            seen.add(ident)
            if scored and "weight" not in entry:
                raise ProfileError(f"{where}: missing weight")
            weight = _int(entry["weight"], where, "weight") if scored else 0
            criteria = entry.get("criteria")
            if not isinstance(criteria, list) or not criteria:
                raise ProfileError(f"{where}: needs a list of criteria")
            characteristics.append(
                Characteristic(
                    id=ident,
                    label=str(entry.get("label", ident)),
                    weight=weight,
                    criteria=tuple(
                        _criterion(c, f"{where}, criterion {n}") for n, c in enumerate(criteria, start=1)
                    ),
                    scored=scored,
                    next_steps=_next_steps(entry.get("next_steps") or [], where),
                )
            )
    for characteristic in characteristics:
        for step in characteristic.next_steps:
            if step.with_characteristic and step.with_characteristic not in seen:
                raise ProfileError(
                    f"{path.name}, {characteristic.id}: next step {step.text!r} refers to the "
                    f"unknown characteristic {step.with_characteristic!r}"
                )
    if not any(c.scored for c in characteristics):
        raise ProfileError(f"{path.name}: a profile needs at least one scored characteristic")
    if rule == "all":  # every scored characteristic must hold: the threshold is the sum of the weights
        total = sum(c.weight for c in characteristics if c.scored)
        if any(c.weight < 1 for c in characteristics if c.scored):
            raise ProfileError(f"{path.name}: rule all needs a weight of 1 or more on every characteristic")
        if threshold is not None and threshold != total:
            raise ProfileError(
                f"{path.name}: rule all means threshold = the sum of the weights ({total}), not {threshold}"
            )
        threshold = total

    if threshold is None:  # cannot happen: rule score needs it, rule all sets it
        raise ProfileError(f"{path.name}: missing 'threshold'")
    profile = Profile(
        name,
        version,
        threshold,
        backfill,
        tuple(characteristics),
        description=str(raw.get("description", "")),
        path=path,
        rule=rule,
    )
    for characteristic in characteristics:
        for criterion in (c for top in characteristic.criteria for c in (top, *top.criteria)):
            if criterion.codelist and criterion.codelist not in profile.codelists:
                system = CRITERION_TYPES[criterion.type][0]
                try:
                    profile.codelists[criterion.codelist] = load_codelist(
                        criterion.codelist, system, codelists_dir
                    )
                except ProfileError as error:
                    raise ProfileError(f"{path.name}, {characteristic.id}: {error}") from error
    return profile


def profile_path(entry: str | Path, base: Path | None = None) -> Path:
    """A profile named in config.yaml: a file in clinical/profiles/ (name without .yaml, e.g.
    astma-signaal-v1) or a path (relative to `base`, the omu home)."""
    text = str(entry)
    if "/" not in text and not text.endswith((".yaml", ".yml")):
        return PROFILES_DIR / f"{text}.yaml"
    path = Path(text).expanduser()
    return path if path.is_absolute() or base is None else base / path


def load_profiles(entries: list[str] | tuple[str, ...], base: Path | None = None) -> list[Profile]:
    """The profiles to run side by side (default: omu-basis v1 only); two with the same name and
    version are refused, so nothing of one can overwrite the other."""
    profiles = [load_profile(profile_path(e, base)) for e in entries] if entries else [load_profile()]
    seen: set[str] = set()
    for profile in profiles:
        if profile.key in seen:
            raise ProfileError(f"profile {profile.name} version {profile.version} is configured twice")
        seen.add(profile.key)
    return profiles
