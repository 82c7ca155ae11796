"""The reference vocabularies in clinical/reference/, each defined once and read by one reader.

- outcomes.csv: what the POH hands back per list row, with what each value means for the next list
  (final), the feedback and the dashboards (contact, reached, counted_as) and the evaluation
  (evaluation_group);
- referral_targets.csv: where a patient can be referred to (outcome verwezen);
- wijken.csv: the region's wijken and their deprivation group.

Python reads them here; SQL gets the vocabularies as DuckDB variables (`omu.sql` sets every
variable of `sql_variables()` that a SQL file reads, so no caller has to remember) and the wijken
as a temp table (`register_wijken`). Adding an outcome value or a referral target is one edit of
its CSV.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from omu.resources import CLINICAL_DIR

REFERENCE_DIR = CLINICAL_DIR / "reference"
OUTCOMES_FILE = REFERENCE_DIR / "outcomes.csv"
REFERRAL_TARGETS_FILE = REFERENCE_DIR / "referral_targets.csv"
WIJKEN_FILE = REFERENCE_DIR / "wijken.csv"

# what an outcome value may be counted as besides its flags (feedback, dashboards, evaluation)
COUNTED_AS = ("not_reached", "declined", "referred", "already_in_care")
FLAGS = ("final", "contact", "reached")
DEPRIVATION_GROUPS = ("laag", "midden", "hoog")


class ReferenceError(ValueError):
    """A reference file that cannot be used, naming file, line and column."""


def read_reference(path: Path, columns: tuple[str, ...]) -> pl.DataFrame:
    """A reference CSV as stripped text: the given columns must be there, the first (the code)
    filled in and unique on every line."""
    frame = pl.read_csv(path, infer_schema=False).with_columns(pl.all().str.strip_chars())
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ReferenceError(f"{path.name}: missing column(s) {', '.join(missing)}")
    key = columns[0]
    seen: set[str] = set()
    for line, code in enumerate(frame[key].to_list(), start=2):
        if not code:
            raise ReferenceError(f"{path.name}, line {line}, column {key}: empty")
        if code in seen:
            raise ReferenceError(f"{path.name}, line {line}, column {key}: {code!r} appears twice")
        seen.add(code)
    return frame.select(columns)


def _flag(path: Path, line: int, column: str, text: str | None) -> bool:
    if text not in ("true", "false"):
        raise ReferenceError(f"{path.name}, line {line}, column {column}: {text!r} is not true or false")
    return text == "true"


@dataclass(frozen=True)
class OutcomeValue:
    code: str
    label: str  # Dutch, for people
    final: bool  # ends the outreach: the patient is not listed again
    contact: bool  # there was a conversation (days to contact, contacted within the quarter)
    reached: bool  # counts as reached in the feedback, the dashboards and the funnel
    counted_as: str | None  # one of COUNTED_AS: its own count in the feedback and dashboards
    evaluation_group: str  # the group in the outcome-after-outreach evaluation
    hint: str | None  # Dutch, shown with the value on the list's explanation sheet


@functools.cache
def _outcome_values(path: Path) -> tuple[OutcomeValue, ...]:
    frame = read_reference(path, ("code", "label", *FLAGS, "counted_as", "evaluation_group", "hint"))
    values = []
    for line, row in enumerate(frame.iter_rows(named=True), start=2):
        counted_as = row["counted_as"] or None
        if counted_as is not None and counted_as not in COUNTED_AS:
            raise ReferenceError(
                f"{path.name}, line {line}, column counted_as: {counted_as!r} "
                f"(allowed: {', '.join(COUNTED_AS)} or empty)"
            )
        if not row["evaluation_group"]:
            raise ReferenceError(f"{path.name}, line {line}, column evaluation_group: empty")
        flags = {name: _flag(path, line, name, row[name]) for name in FLAGS}
        values.append(
            OutcomeValue(
                row["code"],
                row["label"] or row["code"],
                counted_as=counted_as,
                evaluation_group=row["evaluation_group"],
                hint=row["hint"] or None,
                **flags,
            )
        )
    if not any(v.counted_as == "referred" for v in values):
        raise ReferenceError(
            f"{path.name}: no outcome is counted_as referred (the referral targets need one)"
        )
    return tuple(values)


def outcome_values() -> tuple[OutcomeValue, ...]:
    """The outcome vocabulary (read once per file; OUTCOMES_FILE is read when this is called)."""
    return _outcome_values(OUTCOMES_FILE)


def outcome_codes(**having: bool | str) -> list[str]:
    """The codes whose fields equal the given ones, e.g. outcome_codes(final=True) or
    outcome_codes(counted_as='referred'); without arguments all, in the file's order."""
    return [
        v.code for v in outcome_values() if all(getattr(v, name) == want for name, want in having.items())
    ]


def outcome_words(conjunction: str = "of", **having: bool | str) -> str:
    """Those codes' labels in Dutch prose, for texts people read: 'bereikt, afgezien of verwezen'."""
    labels = [v.label for v in outcome_values() if v.code in outcome_codes(**having)]
    return f" {conjunction} ".join([", ".join(labels[:-1]), labels[-1]] if len(labels) > 1 else labels)


@functools.cache
def _referral_targets(path: Path) -> pl.DataFrame:
    return read_reference(path, ("code", "label", "description"))


def referral_targets() -> pl.DataFrame:
    return _referral_targets(REFERRAL_TARGETS_FILE)


@functools.cache
def _wijken(path: Path) -> pl.DataFrame:
    frame = read_reference(path, ("wijk_code", "wijk_name", "deprivation_group")).with_columns(
        pl.col("deprivation_group").str.to_lowercase()
    )
    for line, (code, group) in enumerate(frame.select("wijk_code", "deprivation_group").rows(), start=2):
        if group not in DEPRIVATION_GROUPS:
            raise ReferenceError(
                f"{path.name}, line {line}, column deprivation_group: {group!r} for {code} "
                f"(allowed: {', '.join(DEPRIVATION_GROUPS)})"
            )
    return frame.with_columns(
        deprivation=pl.col("deprivation_group").replace_strict(
            DEPRIVATION_GROUPS, list(range(len(DEPRIVATION_GROUPS))), return_dtype=pl.Int32
        )
    )


def wijken(path: Path | None = None) -> pl.DataFrame:
    """wijk_code, wijk_name, deprivation_group (laag | midden | hoog), deprivation (0, 1, 2)."""
    return _wijken(path or WIJKEN_FILE)


def register_wijken(conn: duckdb.DuckDBPyConnection) -> None:
    """The wijken as temp table reference_wijken, for the SQL that joins on them."""
    conn.register("reference_wijken_frame", wijken())
    conn.execute("CREATE OR REPLACE TEMP TABLE reference_wijken AS SELECT * FROM reference_wijken_frame")
    conn.unregister("reference_wijken_frame")


def sql_variables() -> dict[str, Any]:
    """The vocabularies as DuckDB variables (lists of codes; a dict becomes a MAP)."""
    variables: dict[str, Any] = {
        "outcomes": outcome_codes(),
        "referral_targets": referral_targets()["code"].to_list(),
        "outcome_evaluation_groups": {v.code: v.evaluation_group for v in outcome_values()},
    }
    for flag in FLAGS:
        variables[f"{flag}_outcomes"] = outcome_codes(**{flag: True})
    for counted_as in COUNTED_AS:
        variables[f"{counted_as}_outcomes"] = outcome_codes(counted_as=counted_as)
    return variables
