"""An attacker on the published regional files, written for the tests and independent of the
suppression code (it imports nothing from omu.dashboards.suppression or omu.dashboards.disclosure).

It reads only what Sterkzorg receives: the indicators.csv of every dashboard run it was given
(oldest first; each file holds every quarter up to its own, so a quarter recomputed later
appears in several files), and public knowledge:

* the rule: counts of 1-7 are not shown, other counts are rounded to 5 (so a shown ``c > 0``
  means ``max(8, c - 2) .. c + 2`` and a shown 0 means 0);
* how the figures relate: the region is the sum of the wijken and the sum of the practices;
  a practice's patients live in the wijken it serves, and the ``practices`` column says how many
  practices serve each wijk; inside a row some counts are parts of others (documented in
  docs/dashboards.md); in a deprived wijk (public reference data) everybody counts as living in
  a deprived wijk, elsewhere nobody;
* screening counts of a quarter do not change once delivered (only outreach outcomes arrive
  late), so the same unknowns stand behind them in every file.

It then asks ``scipy.optimize.milp`` for the minimum and maximum of every hidden count and every
shown (rounded) count under all of that together, over all files at once.  A count is
*disclosed* when its minimum equals its maximum (pinned; a hidden count pinned to 0 excepted,
since 0 is shown anyway) or when a hidden count is confined to 1-7.

Rates, intervals and funnel positions are not constraints but checks: the attacker recomputes
each from the published counts (percentages to 2 decimals, Wilson intervals, funnel limits) and
reports every figure that differs.  A figure that is a function of the published counts tells
the attacker nothing new; one that is not (computed from exact counts) is reported.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import coo_array

from omu.dashboards.stats import funnel_limits  # the published method, not the suppression code

HIDDEN_MAX = 7
HALF = 2  # a shown count is the exact one rounded to 5: +-2
BIG = 10**6


@dataclass(frozen=True)
class RateSpec:
    header: str
    numerator: str
    denominator: str
    per: float
    lower: str | None = None
    upper: str | None = None


@dataclass
class Knowledge:
    """Public knowledge, by the Dutch headers of indicators.csv."""

    quarter: str
    level: str
    code: str
    practices: str
    counts: list[str]
    registered: str
    relations: list[tuple[str, list[str]]]  # (total, parts): sum(parts) <= total in every row
    late: set[str]  # counts that may change between files (outreach outcomes)
    tied: tuple[str, str] | None = None  # (in deprived wijk, registered): all or nothing per wijk
    deprived_wijken: set[str] = field(default_factory=set)
    rates: list[RateSpec] = field(default_factory=list)
    funnel: dict[str, float] = field(default_factory=dict)  # header -> confidence
    over: str | None = None  # numerator of the funnel


@dataclass
class Finding:
    quarter: str
    file: int
    area: str
    header: str
    shown: int | None
    low: int
    high: int | None

    def __str__(self) -> str:
        shown = "hidden" if self.shown is None else f"shown {self.shown}"
        return f"{self.quarter} file {self.file} {self.area} {self.header} ({shown}): {self.low}..{self.high}"


@dataclass
class Report:
    disclosures: list[Finding] = field(default_factory=list)
    inconsistencies: list[str] = field(default_factory=list)
    counts_attacked: int = 0


def read_published(path: Path) -> pl.DataFrame:
    frame = pl.read_csv(path, separator=";", decimal_comma=True, infer_schema_length=None)
    return frame.rename({c: c.lstrip("\ufeff") for c in frame.columns})


# --------------------------------------------------------------------------------------------
# Rates and funnel positions: functions of the published counts?
# --------------------------------------------------------------------------------------------


def _wilson(x: float, n: float, z: float = 1.959963984540054) -> tuple[float, float]:
    p = x / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    lower = 0.0 if x == 0 else max(0.0, centre - half)
    upper = 1.0 if x == n else min(1.0, centre + half)
    return lower, upper


def check_derived(frame: pl.DataFrame, k: Knowledge) -> list[str]:
    problems = []
    rows = frame.to_dicts()
    for row in rows:
        where = f"{row[k.quarter]} {row[k.code]}"
        for rate in k.rates:
            num, den, value = row[rate.numerator], row[rate.denominator], row[rate.header]
            if num is None or den is None or den == 0:
                if value is not None:
                    problems.append(f"{where} {rate.header}: shown without its counts")
                continue
            if value is None:
                continue
            expected = rate.per * num / den
            if abs(value - expected) > 0.0051:
                problems.append(f"{where} {rate.header}: {value} is not {rate.per:g}*{num}/{den}")
            if rate.lower and rate.upper and row[rate.lower] is not None:
                lower, upper = _wilson(num, den)
                if (
                    abs(row[rate.lower] - rate.per * lower) > 0.0051
                    or abs(row[rate.upper] - rate.per * upper) > 0.0051
                ):
                    problems.append(f"{where} {rate.header}: interval not the Wilson interval of {num}/{den}")
    if k.funnel and k.over:
        words = {"onder": -1, "binnen": 0, "boven": 1}
        regions = {r[k.quarter]: r for r in rows if r[k.level] == "regio"}
        for row in rows:
            for header, confidence in k.funnel.items():
                if row[header] is None:
                    continue
                region = regions[row[k.quarter]]
                o, r = region[k.over], region[k.registered]
                x, n = row[k.over], row[k.registered]
                if None in (o, r, x, n) or not 0 < o < r or n == 0:
                    problems.append(f"{row[k.quarter]} {row[k.code]} {header}: shown without its counts")
                    continue
                lower, upper = funnel_limits(o / r, n, confidence)
                p = x / n
                expected = 1 if p > upper else -1 if p < lower else 0
                if words[row[header]] != expected:
                    problems.append(f"{row[k.quarter]} {row[k.code]} {header}: not from the shown counts")
    return problems


# --------------------------------------------------------------------------------------------
# The integer program
# --------------------------------------------------------------------------------------------


class _Program:
    def __init__(self) -> None:
        self.n = 0
        self.integer: list[int] = []
        self.upper: list[float] = []
        self.rows: list[dict[int, float]] = []
        self.lo: list[float] = []
        self.hi: list[float] = []

    def var(self, upper: float = np.inf) -> int:
        self.n += 1
        self.integer.append(1)
        self.upper.append(upper)
        return self.n - 1

    def add(self, coef: dict[int, float], lo: float, hi: float) -> None:
        self.rows.append(coef)
        self.lo.append(lo)
        self.hi.append(hi)

    def compile(self) -> None:
        r, c, v = [], [], []
        for i, coef in enumerate(self.rows):
            for k, a in coef.items():
                r.append(i)
                c.append(k)
                v.append(a)
        self.matrix = coo_array((v, (r, c)), shape=(len(self.rows), self.n)).tocsr()

    def optimise(
        self, objective: np.ndarray, cap: tuple[np.ndarray, float] | None = None
    ) -> np.ndarray | None:
        matrix, lo, hi = self.matrix, np.array(self.lo), np.array(self.hi)
        if cap is not None:
            from scipy.sparse import vstack

            matrix = vstack([matrix, coo_array(cap[0].reshape(1, -1)).tocsr()])
            lo, hi = np.append(lo, -np.inf), np.append(hi, cap[1])
        result = milp(
            objective,
            constraints=LinearConstraint(matrix, lo, hi),
            bounds=Bounds(np.zeros(self.n), np.array(self.upper)),
            integrality=np.array(self.integer),
            options={"time_limit": 20.0, "disp": False},
        )
        return None if result.x is None else np.round(result.x)


def attack(paths: list[Path], k: Knowledge) -> Report:
    """Attack the published files (oldest first)."""
    report = Report()
    frames = [read_published(p) for p in paths]
    for frame in frames:
        report.inconsistencies += check_derived(frame, k)
    quarters = sorted({q for f in frames for q in f.get_column(k.quarter).to_list()})
    for quarter in quarters:
        versions: list[Any] = []
        for i, f in enumerate(frames):
            sub = f.filter(pl.col(k.quarter) == quarter).sort([k.level, k.code])
            if sub.height and not (versions and versions[-1][1].equals(sub)):
                versions.append((i, sub))
        _attack_quarter(quarter, versions, k, report)
    return report


def _attack_quarter(
    quarter: str, versions: list[tuple[int, pl.DataFrame]], k: Knowledge, report: Report
) -> None:
    prog = _Program()
    stable = [c for c in k.counts if c not in k.late]
    shared: dict[tuple, int] = {}  # unknowns of screening counts, the same in every file
    first = None
    cells = []  # (file, area, header, shown, coefficients)
    for file_no, frame in versions:
        rows = frame.to_dicts()
        practices = [r[k.code] for r in rows if r[k.level] == "praktijk"]
        wijken = [r[k.code] for r in rows if r[k.level] == "wijk" and (r[k.practices] or 0) > 0]
        first = first or (tuple(practices), tuple(wijken))
        same = first == (tuple(practices), tuple(wijken))  # then the screening unknowns are shared
        region = next(r for r in rows if r[k.level] == "regio")
        big = (region[k.registered] + HALF) if region[k.registered] is not None else BIG

        def unknown(p: str, w: str, c: str, _same=same, _file=file_no) -> int:
            key = ("s", p, w, c) if _same and c in stable else (_file, p, w, c)
            if key not in shared:
                shared[key] = prog.var()
            return shared[key]

        serves = {}
        for p in practices:
            for w in wijken:
                key = ("z", p, w) if same else ("z", file_no, p, w)
                if key not in shared:
                    shared[key] = prog.var(1.0)
                serves[(p, w)] = shared[key]
                reg = unknown(p, w, k.registered)
                prog.add({reg: 1.0, serves[(p, w)]: -float(big)}, -np.inf, 0.0)  # nobody unless served
                prog.add({reg: 1.0, serves[(p, w)]: -1.0}, 0.0, np.inf)  # served: somebody
                for total, parts in k.relations:
                    coef = {unknown(p, w, part): 1.0 for part in parts}
                    coef[unknown(p, w, total)] = coef.get(unknown(p, w, total), 0.0) - 1.0
                    prog.add(coef, -np.inf, 0.0)
                if k.tied:
                    coef = {unknown(p, w, k.tied[0]): 1.0}
                    if w in k.deprived_wijken:
                        coef[unknown(p, w, k.tied[1])] = -1.0
                    prog.add(coef, 0.0, 0.0)
        for r in rows:
            if r[k.level] == "wijk" and r[k.code] in wijken:
                prog.add({serves[(p, r[k.code])]: 1.0 for p in practices}, r[k.practices], r[k.practices])
        for r in rows:
            level, code = r[k.level], r[k.code]
            members = [
                (p, w)
                for p in practices
                for w in wijken
                if level == "regio" or (level == "wijk" and w == code) or (level == "praktijk" and p == code)
            ]
            for c in k.counts:
                coef = {unknown(p, w, c): 1.0 for p, w in members}
                shown = r[c]
                if shown is not None:
                    if not coef:
                        if shown != 0:
                            report.inconsistencies.append(f"{quarter} {code} {c}: {shown} where nobody lives")
                        continue
                    if shown == 0:
                        prog.add(coef, 0.0, 0.0)
                    else:
                        prog.add(coef, max(HIDDEN_MAX + 1, shown - HALF), shown + HALF)
                if coef and shown != 0:
                    cells.append((file_no, code, c, shown, coef))
    prog.compile()
    if not cells:
        return
    vectors = np.zeros((len(cells), prog.n))
    for i, (*_, coef) in enumerate(cells):
        for j, a in coef.items():
            vectors[i, j] = a
    seen: list[set[int]] = [set() for _ in cells]

    def observe(x: np.ndarray | None) -> None:
        if x is None:
            return
        for i, value in enumerate(np.round(vectors @ x).astype(int)):
            seen[i].add(int(value))

    def settled(i: int) -> bool:
        shown, values = cells[i][3], seen[i]
        if len(values) < 2:
            return False
        return shown is not None or any(v == 0 or v > HIDDEN_MAX for v in values)

    cap = float(BIG)
    while True:  # batches of certificates: every unsettled count down at once, then up at once
        before = sum(map(settled, range(len(cells))))
        for up in (False, True):
            open_ = [i for i in range(len(cells)) if not settled(i)]
            if open_:
                total = vectors[open_].sum(axis=0)
                observe(prog.optimise(-total, (total, cap * len(open_))) if up else prog.optimise(total))
        if sum(map(settled, range(len(cells)))) in (before, len(cells)):
            break
    report.counts_attacked += len(cells)
    for i, (file_no, code, header, shown, _) in enumerate(cells):
        if settled(i):
            continue
        low_x = prog.optimise(vectors[i])
        high_x = prog.optimise(-vectors[i], (vectors[i], cap))
        if low_x is None or high_x is None:
            report.inconsistencies.append(f"{quarter} {code} {header}: no feasible world (files contradict)")
            continue
        observe(low_x)
        observe(high_x)
        low, high = int(round(vectors[i] @ low_x)), int(round(vectors[i] @ high_x))
        pinned = low == high and (shown is not None or low > 0)
        confined = shown is None and low >= 1 and high <= HIDDEN_MAX
        if pinned or confined:
            report.disclosures.append(
                Finding(quarter, file_no, code, header, shown, low, None if high >= cap else high)
            )
