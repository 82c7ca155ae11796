"""Small vectorised helpers shared by the generator modules (dates as int day numbers since 1970-01-01)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

EPOCH = dt.date(1970, 1, 1)
NO_END = 10_000_000  # day number meaning "open / never" (year ~29000), never written
DAYS_PER_YEAR = 365.25
DAY_1900 = (dt.date(1900, 1, 1) - EPOCH).days


def day_number(day: dt.date) -> int:
    return (day - EPOCH).days


def rng_for(seed: int, practice: int, stream: int, *extra: int) -> np.random.Generator:
    """One independent random stream per (seed, practice, stream, ...): a practice never depends on others."""
    return np.random.default_rng(np.random.SeedSequence([seed, practice, stream, *extra]))


def year_month(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    months = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    return months // 12 + 1970, months % 12 + 1


def expand(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Owner index and rank within owner for `counts[i]` rows per item i."""
    counts = np.asarray(counts, dtype=np.int64)
    owner = np.repeat(np.arange(counts.size), counts)
    starts = np.cumsum(counts) - counts
    return owner, np.arange(owner.size) - starts[owner]


def poisson_days(
    rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray, rate_per_year: np.ndarray | float
) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson process with a constant yearly rate on each half-open day interval [lo, hi): (owner, day)."""
    length = np.maximum(np.asarray(hi) - np.asarray(lo), 0)
    counts = rng.poisson(np.asarray(rate_per_year) * length / DAYS_PER_YEAR)
    owner, _ = expand(counts)
    days = np.asarray(lo)[owner] + np.floor(rng.random(owner.size) * length[owner]).astype(np.int64)
    return owner, days


def choose(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    """Indices drawn with the given (unnormalised) weights; weights may be one vector or one row per draw."""
    weights = np.asarray(weights, dtype=float)
    cumulative = np.cumsum(weights, axis=-1)
    cumulative = cumulative / cumulative[..., -1:]
    u = rng.random(size)
    if weights.ndim == 1:
        return np.minimum(np.searchsorted(cumulative, u, side="right"), weights.size - 1)
    return np.minimum((u[:, None] >= cumulative).sum(axis=1), weights.shape[1] - 1)


def date_expr(column: str) -> pl.Expr:
    """Int day numbers -> pl.Date, NO_END -> null."""
    col = pl.col(column)
    return pl.when(col < NO_END).then(col).otherwise(None).cast(pl.Int32).cast(pl.Date).alias(column)
