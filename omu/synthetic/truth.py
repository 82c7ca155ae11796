"""The screening profile evaluated directly on delivery frames, at many reference dates at once.

This is the generator's independent implementation of the profile definitions (docs/screening.md and
the profile YAML): it reads the rows exactly as written to the CSV files, never the generator's intent. It serves two
purposes: the state that drives the hidden outcome hazard, and the truth files the pipeline is tested against.

Definitions (R = reference date):
- registered: registered_from <= R and (registered_until empty or registered_until > R);
- age = R.year - birth_year - (1 if birth_month is given and birth_month > R.month else 0);
- active episode: start_date <= R and (end_date empty or end_date >= R); an ICPC code matches a codelist code when
  it equals it or starts with code + ".";
- prescription in a window of N days: R - N <= prescribed_on <= R; an ATC code matches a codelist code by prefix;
  a minimum quantity sums quantity (missing = 1);
- latest determination: among determinations with a codelist code and measured_on <= R, the latest one; its value,
  lower-cased and trimmed, must be listed for that code;
- age range: min_years <= age <= max_years; prescription min_count: at least that many in the window;
- contacts in a window of N days (of the codelist's kinds): at least min_count (default 1), at most max_count;
  with max_count alone, none at all counts too;
- first prescription: the first prescription of the codelist on or before R lies in R's quarter;
- either_of: one of its criteria holds; rule all: the threshold is the sum of the weights.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np
import polars as pl

from omu.synthetic._util import day_number, year_month
from omu.synthetic.reference import CLINICAL_DIR, DEFAULT_PROFILE, load_yaml, read_codelist

MEDICINE_WINDOW_DAYS = 365  # distinct medicines (ATC codes) prescribed in the past year


@dataclass(frozen=True)
class Criterion:
    type: str  # age_at_least | age_range | latest_determination | active_episode | prescription | contact |
    #            first_prescription | either_of
    codelist: str | None = None
    years: int | None = None
    window_days: int | None = None
    absent: bool = False
    min_quantity: float | None = None
    min_count: int | None = None
    max_count: int | None = None
    min_years: int | None = None
    max_years: int | None = None
    criteria: tuple[Criterion, ...] = ()

    @classmethod
    def read(cls, c: dict) -> Criterion:
        return cls(
            type=c["type"],
            codelist=c.get("codelist"),
            years=c.get("years"),
            window_days=c.get("window_days"),
            absent=bool(c.get("absent", False)),
            min_quantity=c.get("min_quantity"),
            min_count=c.get("min_count"),
            max_count=c.get("max_count"),
            min_years=c.get("min_years"),
            max_years=c.get("max_years"),
            criteria=tuple(cls.read(i) for i in c.get("criteria", [])),
        )


@dataclass(frozen=True)
class Characteristic:
    id: str
    weight: float
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class TruthProfile:
    name: str
    version: int
    threshold: float
    characteristics: tuple[Characteristic, ...]
    notes: tuple[Characteristic, ...]
    clinical_dir: Path = CLINICAL_DIR

    @classmethod
    def load(cls, path: Path = DEFAULT_PROFILE, clinical_dir: Path = CLINICAL_DIR) -> TruthProfile:
        data = load_yaml(path)

        def characteristic(item: dict) -> Characteristic:
            criteria = tuple(Criterion.read(c) for c in item["criteria"])
            return Characteristic(item["id"], float(item.get("weight", 0)), criteria)

        characteristics = tuple(characteristic(i) for i in data.get("characteristics", []))
        all_of = data.get("rule") == "all"
        return cls(
            name=data["name"],
            version=int(data["version"]),
            threshold=sum(c.weight for c in characteristics) if all_of else float(data["threshold"]),
            characteristics=characteristics,
            notes=tuple(characteristic(i) for i in data.get("notes", [])),
            clinical_dir=clinical_dir,
        )


@dataclass
class Evaluation:
    """Everything per (patient in patients-frame order, reference date)."""

    patient_id: pl.Series
    dates: np.ndarray  # day numbers, ascending
    registered: np.ndarray  # bool (n, k)
    age: np.ndarray  # int (n, k)
    flags: dict[str, np.ndarray]  # scored characteristics, profile order, bool (n, k)
    notes: dict[str, np.ndarray]  # notes (not scored), bool (n, k)
    score: np.ndarray  # (n, k)
    over_threshold: np.ndarray  # bool (n, k)
    extra: dict[str, np.ndarray] = field(default_factory=dict)  # n_chronic, n_medicines when asked


def _cover(
    index: np.ndarray, lo: np.ndarray, hi: np.ndarray, n: int, k: int, weights: np.ndarray | None = None
) -> np.ndarray:
    """Per patient and date position, the (weighted) number of rows whose position range [lo, hi) covers it."""
    width = k + 1
    keep = hi > lo
    w = None if weights is None else weights[keep]
    lo_flat = index[keep] * width + lo[keep]
    hi_flat = index[keep] * width + hi[keep]
    diff = np.bincount(lo_flat, w, minlength=n * width) - np.bincount(hi_flat, w, minlength=n * width)
    return np.cumsum(diff.reshape(n, width), axis=1)[:, :k]


def _positions(
    dates: np.ndarray, first_day: np.ndarray, last_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Position range [lo, hi) of the reference dates R with first_day <= R <= last_day."""
    return np.searchsorted(dates, first_day, side="left"), np.searchsorted(dates, last_day, side="right")


def _with_index(frame: pl.DataFrame, index: pl.DataFrame) -> pl.DataFrame:
    return frame.join(index, on="patient_id", how="inner")


def _icpc_filter(codes: Sequence[str]) -> pl.Expr:
    icpc = pl.col("icpc").str.strip_chars()
    expr = pl.lit(False)
    for code in codes:
        expr = expr | (icpc == code) | icpc.str.starts_with(code + ".")
    return expr


def _atc_filter(codes: Sequence[str]) -> pl.Expr:
    atc = pl.col("atc").str.strip_chars()
    expr = pl.lit(False)
    for code in codes:
        expr = expr | atc.str.starts_with(code)
    return expr


_T = TypeVar("_T")


def _given(value: _T | None) -> _T:
    """A criterion field its type requires (the profile loader refuses a criterion without it)."""
    if value is None:
        raise ValueError("a criterion lacks a field its type requires")
    return value


class _Evaluator:
    def __init__(self, tables: Mapping[str, pl.DataFrame], dates: np.ndarray, clinical_dir: Path):
        self.dates = dates
        self.k = dates.size
        self.clinical_dir = clinical_dir
        patients = tables["patients.csv"]
        self.n = patients.height
        index = patients.select("patient_id").with_row_index("_i").with_columns(pl.col("_i").cast(pl.Int64))
        big = np.iinfo(np.int64).max // 4

        def child(name: str, date_cols: tuple[str, ...]) -> pl.DataFrame:
            frame = tables.get(name)
            if frame is None:
                return pl.DataFrame()
            frame = _with_index(frame, index)
            return frame.with_columns(pl.col(c).cast(pl.Int64).fill_null(big) for c in date_cols)

        self.big = big
        self.episodes = child("episodes.csv", ("start_date", "end_date"))
        self.prescriptions = child("prescriptions.csv", ("prescribed_on",))
        self.determinations = child("determinations.csv", ("measured_on",))
        self.contacts = child("contacts.csv", ("contact_on",))
        self.patients = patients
        self._codelists: dict[str, pl.DataFrame] = {}

    def codelist(self, name: str) -> pl.DataFrame:
        if name not in self._codelists:
            self._codelists[name] = read_codelist(name, self.clinical_dir)
        return self._codelists[name]

    def registered(self) -> np.ndarray:
        start = self.patients["registered_from"].cast(pl.Int64).to_numpy()
        until = self.patients["registered_until"].cast(pl.Int64).fill_null(self.big).to_numpy()
        r = self.dates[None, :]
        return (start[:, None] <= r) & (until[:, None] > r)

    def age(self) -> np.ndarray:
        year, month = year_month(self.dates)
        birth_year = self.patients["birth_year"].cast(pl.Int64).to_numpy()
        birth_month = self.patients["birth_month"].cast(pl.Int64).fill_null(0).to_numpy()
        later = (birth_month[:, None] > month[None, :]) & (birth_month[:, None] > 0)
        return year[None, :] - birth_year[:, None] - later.astype(np.int64)

    def active_episodes(self, codes: Sequence[str]) -> np.ndarray:
        if self.episodes.is_empty():
            return np.zeros((self.n, self.k), dtype=np.int64)
        rows = self.episodes.filter(_icpc_filter(codes))
        lo, hi = _positions(self.dates, rows["start_date"].to_numpy(), rows["end_date"].to_numpy())
        return _cover(rows["_i"].to_numpy(), lo, hi, self.n, self.k)

    def prescriptions_in_window(self, codes: Sequence[str], window_days: int, quantity: bool) -> np.ndarray:
        if self.prescriptions.is_empty():
            return np.zeros((self.n, self.k))
        rows = self.prescriptions.filter(_atc_filter(codes))
        day = rows["prescribed_on"].to_numpy()
        lo, hi = _positions(self.dates, day, day + window_days)
        weights = None
        if quantity:
            weights = rows["quantity"].cast(pl.Float64).fill_null(1.0).fill_nan(1.0).to_numpy()
        return _cover(rows["_i"].to_numpy(), lo, hi, self.n, self.k, weights)

    def distinct_medicines(self, window_days: int) -> np.ndarray:
        """Number of distinct ATC codes prescribed in the window (R - window_days <= prescribed_on <= R)."""
        if self.prescriptions.is_empty():
            return np.zeros((self.n, self.k), dtype=np.int64)
        rows = (
            self.prescriptions.select("_i", pl.col("atc").str.strip_chars(), "prescribed_on")
            .unique()
            .sort("_i", "atc", "prescribed_on")
        )
        index = rows["_i"].to_numpy()
        day = rows["prescribed_on"].to_numpy()
        lo, hi = _positions(self.dates, day, day + window_days)
        # within one (patient, atc) both lo and hi are non-decreasing: start each range where the previous ended
        same = (
            rows.select(
                (
                    (pl.col("_i") == pl.col("_i").shift(1)) & (pl.col("atc") == pl.col("atc").shift(1))
                ).fill_null(False)
            )
            .to_series()
            .to_numpy()
        )
        previous_hi = np.concatenate([[0], hi[:-1]])
        lo = np.where(same, np.maximum(lo, previous_hi), lo)
        return _cover(index, lo, hi, self.n, self.k)

    def latest_determination(self, codelist: str) -> np.ndarray:
        listed = self.codelist(codelist).select(
            pl.col("code").cast(pl.Int64),
            pl.col("value").str.strip_chars().str.to_lowercase().alias("_value"),
        )
        if self.determinations.is_empty():
            return np.zeros((self.n, self.k), dtype=bool)
        rows = (
            self.determinations.filter(pl.col("code").cast(pl.Int64).is_in(listed["code"].unique().implode()))
            .select(
                "_i",
                pl.col("code").cast(pl.Int64),
                "measured_on",
                pl.col("value").cast(pl.String).str.strip_chars().str.to_lowercase().alias("_value"),
            )
            .with_row_index("_row")
            .sort("_i", "measured_on", "_row")
        )
        listed = listed.unique().with_columns(pl.lit(True).alias("_hit"))
        hit = rows.join(listed, on=["code", "_value"], how="left")
        hit = hit.sort("_i", "measured_on", "_row")
        index = hit["_i"].to_numpy()
        day = hit["measured_on"].to_numpy()
        next_day = np.full(day.size, self.big, dtype=np.int64)
        same = np.zeros(day.size, dtype=bool)
        same[:-1] = index[:-1] == index[1:]
        next_day[:-1] = np.where(same[:-1], day[1:], self.big)
        lo, hi = _positions(self.dates, day, np.where(next_day < self.big, next_day - 1, self.big))
        says = hit["_hit"].fill_null(False).to_numpy()
        return _cover(index[says], lo[says], hi[says], self.n, self.k) > 0

    def contacts_in_window(self, kinds: Sequence[str] | None, window_days: int) -> np.ndarray:
        if self.contacts.is_empty():
            return np.zeros((self.n, self.k))
        rows = (
            self.contacts
            if kinds is None
            else self.contacts.filter(pl.col("kind").str.strip_chars().is_in(kinds))
        )
        day = rows["contact_on"].to_numpy()
        lo, hi = _positions(self.dates, day, day + window_days)
        return _cover(rows["_i"].to_numpy(), lo, hi, self.n, self.k)

    def first_prescription_in_quarter(self, codes: Sequence[str]) -> np.ndarray:
        """The first prescription ever of the codes lies in the quarter that ends on R (R is a quarter end)."""
        if self.prescriptions.is_empty():
            return np.zeros((self.n, self.k), dtype=bool)
        first = (
            self.prescriptions.filter(_atc_filter(codes)).group_by("_i").agg(pl.col("prescribed_on").min())
        )
        day = first["prescribed_on"].to_numpy()
        year, month = year_month(day)
        quarter_end = np.array(
            [
                day_number(dt.date(int(y), 12, 31))
                if m > 9
                else day_number(dt.date(int(y), (int(m) - 1) // 3 * 3 + 4, 1)) - 1
                for y, m in zip(year, month, strict=True)
            ],
            dtype=np.int64,
        )
        lo, hi = _positions(self.dates, quarter_end, quarter_end)
        return _cover(first["_i"].to_numpy(), lo, hi, self.n, self.k) > 0

    def criterion(self, criterion: Criterion, age: np.ndarray) -> np.ndarray:
        if criterion.type == "age_at_least":
            result = age >= int(_given(criterion.years))
        elif criterion.type == "age_range":
            result = (age >= int(_given(criterion.min_years))) & (age <= int(_given(criterion.max_years)))
        elif criterion.type == "either_of":
            result = np.zeros((self.n, self.k), dtype=bool)
            for sub in criterion.criteria:
                result |= self.criterion(sub, age)
        elif criterion.type == "contact":
            kinds = self.codelist(criterion.codelist)["code"].to_list() if criterion.codelist else None
            count = self.contacts_in_window(kinds, int(_given(criterion.window_days)))
            result = (
                count >= (criterion.min_count or 1)
                if criterion.max_count is None or criterion.min_count
                else np.ones((self.n, self.k), dtype=bool)
            )
            if criterion.max_count is not None:
                result = result & (count <= criterion.max_count)
        elif criterion.type == "first_prescription":
            result = self.first_prescription_in_quarter(
                self.codelist(_given(criterion.codelist))["code"].to_list()
            )
        elif criterion.type == "latest_determination":
            result = self.latest_determination(_given(criterion.codelist))
        elif criterion.type == "active_episode":
            result = self.active_episodes(self.codelist(_given(criterion.codelist))["code"].to_list()) > 0
        elif criterion.type == "prescription":
            codes = self.codelist(_given(criterion.codelist))["code"].to_list()
            count = self.prescriptions_in_window(codes, int(_given(criterion.window_days)), quantity=False)
            result = count >= (criterion.min_count or 1)
            if criterion.min_quantity is not None:
                total = self.prescriptions_in_window(codes, int(_given(criterion.window_days)), quantity=True)
                result = result & (total >= float(criterion.min_quantity) - 1e-9)
        else:
            raise ValueError(f"unknown criterion type {criterion.type!r}")
        return ~result if criterion.absent else result

    def characteristic(self, item: Characteristic, age: np.ndarray) -> np.ndarray:
        result = np.ones((self.n, self.k), dtype=bool)
        for criterion in item.criteria:
            result &= self.criterion(criterion, age)
        return result


def evaluate(
    tables: Mapping[str, pl.DataFrame],
    dates: Sequence[dt.date] | np.ndarray,
    profile: TruthProfile | None = None,
    *,
    with_state: bool = False,
) -> Evaluation:
    """Evaluate the profile for every patient of tables["patients.csv"] at every date (ascending).

    with_state adds extra["n_chronic"] (active episodes in codelist chronic_conditions) and extra["n_medicines"]
    (distinct ATC codes prescribed in the past 365 days)."""
    profile = profile or TruthProfile.load()
    days = np.array([d if isinstance(d, int | np.integer) else day_number(d) for d in dates], dtype=np.int64)
    if np.any(np.diff(days) < 0):
        raise ValueError("dates must be ascending")
    ev = _Evaluator(tables, days, profile.clinical_dir)
    age = ev.age()
    flags = {item.id: ev.characteristic(item, age) for item in profile.characteristics}
    notes = {item.id: ev.characteristic(item, age) for item in profile.notes}
    score = np.zeros((ev.n, ev.k))
    for item in profile.characteristics:
        score = score + item.weight * flags[item.id]
    if np.allclose(score, np.round(score)):
        score = np.round(score).astype(np.int64)
    extra = {}
    if with_state:
        extra["n_chronic"] = ev.active_episodes(ev.codelist("chronic_conditions")["code"].to_list())
        extra["n_medicines"] = ev.distinct_medicines(MEDICINE_WINDOW_DAYS)
    return Evaluation(
        patient_id=tables["patients.csv"]["patient_id"],
        dates=days,
        registered=ev.registered(),
        age=age,
        flags=flags,
        notes=notes,
        score=score,
        over_threshold=score >= profile.threshold,
        extra=extra,
    )
