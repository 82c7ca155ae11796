"""The outreach loop, simulated (docs/synthetic-data.md, "The outreach loop"): who goes on a list,
who is reached, and a chosen effect of being reached on the later outcome.

Listed: a first-time crosser as the pipeline defines it: at or over the threshold at the end of a
delivered quarter L, registered then, and below it at the end of every earlier quarter screened
for the practice (the backfill window before the first delivery, then the delivered quarters).
Reached: each listed patient with `reach_probability`, independently of anything else (so the
comparison is unconfounded by construction). Contact: a day in the first 60 of the working
quarter L+1. Effect: from the working quarter on, a reached patient's unplanned-care hazard is
multiplied by `hazard_ratio` (the hazard model of omu.synthetic.outcome). Without a loop nothing
changes: generation stays byte-identical.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from omu.quarters import Quarter
from omu.synthetic._util import date_expr

CONTACT_DAYS = 60  # the contact falls in the first 60 days of the working quarter


@dataclass(frozen=True)
class OutreachLoop:
    reach_probability: float = 0.6
    hazard_ratio: float = 0.8
    backfill_quarters: int = 4  # as the screening profile's backfill_quarters

    def __post_init__(self) -> None:
        if not 0 <= self.reach_probability <= 1:
            raise ValueError("reach_probability must lie in [0, 1]")
        if self.hazard_ratio <= 0:
            raise ValueError("hazard_ratio must be positive")


@dataclass
class LoopResult:
    listed_at: np.ndarray  # (n,) position in the simulated quarters of the listing quarter, -1 = never listed
    reached: np.ndarray  # (n,) bool
    contact_day: np.ndarray  # (n,) day number of the contact (or the last attempt), -1 = not listed


def simulate_loop(
    rng: np.random.Generator,
    over_at_end: np.ndarray,
    sim_quarters: list[Quarter],
    delivered: list[Quarter],
    starts: np.ndarray,
    loop: OutreachLoop,
) -> LoopResult:
    """over_at_end: (n, q) registered and at/over the threshold at the end of each simulated quarter."""
    n = over_at_end.shape[0]
    window_start = max(sim_quarters.index(delivered[0]) - loop.backfill_quarters, 0)
    listed_at = np.full(n, -1, dtype=np.int64)
    for quarter in delivered:  # a loop over quarters, not patients
        p = sim_quarters.index(quarter)
        new = over_at_end[:, p] & ~over_at_end[:, window_start:p].any(axis=1) & (listed_at < 0)
        listed_at[new] = p
    listed = listed_at >= 0
    reached = listed & (rng.random(n) < loop.reach_probability)
    offset = rng.integers(0, CONTACT_DAYS, n)
    work = np.minimum(listed_at + 1, len(starts) - 1)
    contact_day = np.where(listed, starts[work] + offset, -1)
    return LoopResult(listed_at, reached, contact_day)


def effect_on_linear_predictor(result: LoopResult, n_quarters: int, loop: OutreachLoop) -> np.ndarray:
    """(n, q) added to log(hazard): log(hazard_ratio) for a reached patient from the working quarter on."""
    after = np.arange(n_quarters)[None, :] >= (result.listed_at + 1)[:, None]
    return np.where(result.reached[:, None] & after, np.log(loop.hazard_ratio), 0.0)


def outcome_rows(
    result: LoopResult, patient_ids: pl.Series, sim_quarters: list[Quarter], practice_id: str
) -> pl.DataFrame:
    """What the POH hands back: patient_id, quarter of the list, outcome (bereikt / niet_bereikt), date."""
    listed = np.flatnonzero(result.listed_at >= 0)
    return (
        pl.DataFrame(
            {
                "practice_id": practice_id,
                "quarter": [str(sim_quarters[i]) for i in result.listed_at[listed]],
                "patient_id": patient_ids.gather(listed),
                "outcome": np.where(result.reached[listed], "bereikt", "niet_bereikt"),
                "date": result.contact_day[listed],
            }
        )
        .with_columns(date_expr("date"))
        .sort("quarter", "patient_id")
    )


def write_outcome_files(folder: Path, rows: pl.DataFrame, practice_id: str) -> list[Path]:
    """<folder>/<practice_id>/<quarter>.csv, ';'-separated, as `omu outcomes import` reads them."""
    written = []
    for (quarter,), part in rows.partition_by("quarter", as_dict=True).items():
        path = folder / practice_id / f"{quarter}.csv"
        path.parent.mkdir(parents=True, exist_ok=True)
        part.with_columns(pl.col("date").dt.strftime("%Y-%m-%d")).write_csv(path, separator=";")
        written.append(path)
    return sorted(written)
