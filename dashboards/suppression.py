"""Small-number suppression: the one place figures pass through before they leave the store.

The rule (docs/dashboards.md, "Suppression: one rule, one place"):

1. counts from 1 to 7 are not shown (*primary* suppression);
2. other counts are rounded to the nearest 5;
3. a rate whose numerator or denominator is suppressed is not shown;
4. no rate is computed on fewer than 10 events for age standardisation
   (:func:`omu.dashboards.stats.age_standardised_rate` returns nan there);
5. no figure may be recoverable by subtracting others (*secondary* suppression);
6. the same rule is applied identically every quarter.

Public API
----------
``suppress_count(n)``
    Rules 1-2 for one count or a vector of counts.
``suppress_table(df, *, count_columns, groups=(), total_flag=None, column_totals=None,
rates=None, derived=None)``
    Rules 1-6 for a table: primary and secondary suppression over its additive structure,
    rounding, rates and derived figures (DSRs and their limits) nulled where their inputs are.
``Rate(numerator, denominator, per=100.0, interval=False)``
    How ``suppress_table`` derives a rate or percentage.
``rate_if_shown(numerator, denominator, numerator_shown, denominator_shown, per=1.0)``
    Rule 3 for plain arrays.

Choices made here (and why)
---------------------------
* **A true zero is shown as 0.**  The rule hides 1-7; 0 is not in that range, and "nobody in
  this wijk" identifies no one.  (Zeros can still reveal that *every* member of a group is in
  the complementary category; that is group, not individual, disclosure and the rule accepts
  it.)  Secondary suppression avoids picking a zero as the complementary cell, because a
  hidden 0 next to a hidden 1-7 value protects little once the reader knows the rule; a zero
  is hidden only when an equation offers nothing else.
* **Rounding**: to the nearest multiple of 5, i.e. ``5 * floor((n + 2) / 5)``: remainders
  0-2 go down, 3-4 go up.  For whole numbers and an odd base there are no .5 ties, so the
  result is deterministic.  The smallest shown non-zero count is therefore 10 (8 and 9 -> 10).
* **Suppressed cells are plain nulls**: primary and secondary suppression look alike, so a
  reader cannot tell which hidden cell is the small one.
* **Secondary suppression is designed on exact values.**  Rounding shown counts to 5 makes
  ``total - shown parts`` inexact, but not reliably so (the same counts may be published
  unrounded elsewhere, rounding errors can cancel, rates can give counts back - see below), so
  the protection never relies on it: every additive relation must have 0 or at least 2 hidden
  cells, and no hidden cell may be determined by the system of all relations together (this
  matters where cells sit in two relations, as in a two-way table; see ``suppress_table``).
* **"Part of" relations publish their remainder.**  Showing ``invited 50`` and ``reached 46``
  publishes "4 not reached".  Declared relations (``column_totals={"invited": ["reached"]}``)
  protect such remainders like shown counts; undeclared ones are not protected, so every
  numerator/denominator pair of a proportion must be declared.
* **Rates are computed from the published (rounded) counts**, and shown only where numerator
  and denominator are both shown.  A precise rate computed from exact counts next to rounded
  counts gives the exact counts back (765 registered and 20 shown at 2,75 % is exactly 21 of
  763), so rounding would protect nothing.  The price is bias for small numbers (8/17 = 47 %
  becomes 10/15 = 67 %); the files and the page say that rates are computed from rounded counts.
* **Determinism**: the result depends only on the table's content, never on its row order
  (ties between equally good complementary cells are broken by the sorted row content, then by
  the order of ``count_columns``), so the same table gives the same figures every quarter.
* **Scope**: the relations of *one* table, with exact-value reasoning (no rounding intervals, no
  cross-hierarchy structure, no earlier versions).  The regional indicators are protected by
  :mod:`omu.dashboards.disclosure` instead, which audits everything published for a quarter at once
  with integer programming; this function stays for single tables of counts.  Differencing across separately published tables
  (a year-to-date count minus the quarters already shown, a practice table against a wijk
  table) is not seen here: publish figures that add up to each other from one call, with the
  relations declared, or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from omu.dashboards.stats import wilson_interval

__all__ = [
    "PRIMARY_MAX",
    "PRIMARY_MIN",
    "ROUNDING_BASE",
    "Rate",
    "rate_if_shown",
    "suppress_count",
    "suppress_table",
]

PRIMARY_MIN = 1  #: smallest count that is hidden
PRIMARY_MAX = 7  #: largest count that is hidden
ROUNDING_BASE = 5  #: shown counts are rounded to a multiple of this


# --------------------------------------------------------------------------------------------
# Single counts
# --------------------------------------------------------------------------------------------


def _round(values: np.ndarray) -> np.ndarray:
    half = ROUNDING_BASE // 2
    return ((values + half) // ROUNDING_BASE) * ROUNDING_BASE


def _as_counts(values: Any, what: str = "counts") -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)
    ):
        raise ValueError(f"{what} must be whole numbers")
    if np.issubdtype(arr.dtype, np.floating) and (np.any(~np.isfinite(arr)) or np.any(arr != np.floor(arr))):
        raise ValueError(f"{what} must be whole numbers (no nan, no fractions)")
    if np.any(arr < 0):
        raise ValueError(f"{what} must not be negative")
    return arr.astype(np.int64)


def suppress_count(n: Any) -> Any:
    """Apply the primary rule and rounding to a count, or to each count of a vector.

    ``0 -> 0``; ``1..7 -> hidden``; otherwise the nearest multiple of 5 (``8 -> 10``,
    ``12 -> 10``, ``13 -> 15``; no ties can occur).  Hidden is ``None`` for a Python scalar,
    ``nan`` in a numpy (float) array, and null in a polars ``Series`` (returned as ``Int64``).
    Negative, fractional or missing counts raise ``ValueError``.

    This hides single small counts only; a table whose cells add up to totals needs
    :func:`suppress_table`, which adds secondary suppression.
    """
    if isinstance(n, pl.Series):
        if n.null_count():
            raise ValueError("counts must not be missing")
        arr = _as_counts(n.to_numpy())
        hidden = (arr >= PRIMARY_MIN) & (arr <= PRIMARY_MAX)
        return pl.Series(n.name, _round(arr), dtype=pl.Int64).scatter(np.flatnonzero(hidden), None)
    if np.ndim(n) == 0:
        value = int(_as_counts(n))
        return None if PRIMARY_MIN <= value <= PRIMARY_MAX else int(_round(np.asarray(value)))
    arr = _as_counts(n)
    hidden = (arr >= PRIMARY_MIN) & (arr <= PRIMARY_MAX)
    return np.where(hidden, np.nan, _round(arr).astype(float))


def rate_if_shown(
    numerator: Any,
    denominator: Any,
    numerator_shown: Any,
    denominator_shown: Any,
    per: float = 1.0,
) -> np.ndarray:
    """``per * numerator / denominator`` where both are shown (and the denominator > 0), else nan.

    Pass the *published* (rounded) counts and the shown-masks that suppression produced (see
    the module docstring for why rates never use exact counts).
    """
    num = np.asarray(numerator, dtype=float)
    den = np.asarray(denominator, dtype=float)
    ok = np.asarray(numerator_shown, dtype=bool) & np.asarray(denominator_shown, dtype=bool) & (den > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, per * num / np.where(den > 0, den, 1.0), np.nan)


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rate:
    """A rate or percentage that :func:`suppress_table` derives from two of its count columns.

    ``per`` is the multiplier (100 for a percentage, 1000 for "per 1,000", 1 for a fraction).
    With ``interval=True`` the columns ``<name>_lower`` and ``<name>_upper`` are added: the
    Wilson score 95 % interval (:func:`omu.dashboards.stats.wilson_interval`) times ``per``, for
    proportions (numerator part of denominator) only.
    """

    numerator: str
    denominator: str
    per: float = 100.0
    interval: bool = False


@dataclass
class _Equation:
    """One additive relation: sum(parts) - total = 0, or sum(parts) = a total known elsewhere."""

    cells: list[tuple[int, int]]  # (canonical row, count-column index)
    total: tuple[int, int] | None  # the total's cell when it is in the table


def suppress_table(
    df: pl.DataFrame,
    *,
    count_columns: Sequence[str],
    groups: Sequence[str] = (),
    total_flag: str | None = None,
    column_totals: Mapping[str, Sequence[str]] | Sequence[tuple[str, Sequence[str]]] | None = None,
    rates: Mapping[str, Rate] | None = None,
    derived: Mapping[str, Sequence[str]] | None = None,
) -> pl.DataFrame:
    """Suppress and round a table of counts whose cells add up, so that nothing small leaks.

    Parameters
    ----------
    df
        One row per part (a wijk, a practice, a category), count columns holding whole,
        non-negative, non-missing numbers.  Row order does not matter and is kept.
    count_columns
        The counts to protect.  Every count column is taken to be *additive over the rows of a
        group* (the wijken of a quarter add up to Utrecht).
    groups
        Columns whose values define the additive groups, e.g. ``["quarter"]`` when the table
        holds several quarters of wijken (each quarter is then suppressed on its own, by the
        same rule).  ``()`` makes the whole table one group.
    total_flag
        Name of a boolean column marking the row that holds the group's total (e.g. the
        "Utrecht" row below the wijken), at most one per group.  Without it - or for a group
        without such a row - the total is *assumed known anyway* (published in another table
        or dashboard), which is the safe assumption.
    column_totals
        Relations between columns within each row, ``{total: [parts...]}``: the parts are
        (disjoint) parts of the total, all of them or only some, e.g. ``{"registered":
        ["at_or_over", "below"]}``, ``{"registered": ["at_or_over"]}``, ``{"invited":
        ["reached"]}``.  All named columns must be count columns, and in every row the parts
        must add up to at most the total.  Where one total heads several relations whose parts
        overlap (each characteristic is a part of ``registered`` on its own), pass a sequence of
        ``(total, [parts...])`` pairs instead of a mapping, e.g. ``[("registered", ["over"]),
        ("registered", ["lives_alone"])]``: each pair is its own relation with its own
        remainder.  When they do not always add up to it, the
        *remainder* ``total - sum(parts)`` (the number below the threshold, the number not
        reached) is published too - by subtraction - so it is protected as an extra,
        never-shown cell: a remainder of 1-7 forces a second hidden cell exactly like a shown
        count of 1-7 would.  Declare every "part of" relation between count columns here
        (numerator and denominator of a proportion especially); an undeclared one is not
        protected.
    rates
        ``{name: Rate(numerator, denominator, per, interval)}``: columns derived here from the
        published (rounded) counts and null unless numerator and denominator are both shown.  A rate does
        not declare a relation: for a proportion, also put ``{denominator: [numerator]}`` in
        ``column_totals``.
    derived
        ``{column: [count columns]}`` for figures computed elsewhere (a DSR and its limits from
        :func:`omu.dashboards.stats.age_standardised_rate`): set to null wherever one of the listed
        counts is hidden, and wherever they are nan (e.g. fewer than 10 events).

    Returns
    -------
    The table with every count column replaced by its published value (``Int64``: 0, a
    multiple of 5 from 10 up, or null when hidden), plus the rate columns; other columns are
    unchanged.

    Method
    ------
    Every additive relation is an *equation* between cells:

    * per group and count column: ``sum(parts) - total = 0`` (total row present) or
      ``sum(parts) = T`` with ``T`` known (total not in the table; a group of one part has no
      equation, since that part *is* the total);
    * per row and ``column_totals`` entry: ``sum(part columns) + remainder - total column = 0``
      (the remainder is left out when it is zero in every row, i.e. the parts are declared
      complete).  Remainders are treated as counts the reader knows unless hidden, and, being
      never shown, a non-zero remainder is the first choice as a complementary cell (hiding
      it costs nothing); this over-protects, never under-protects.

    A hidden cell is recoverable by differencing when an equation has exactly one hidden cell:
    in ``West 3, Oost 120, Zuid 250`` with Utrecht 373 known, ``373 - 120 - 250 = 3``.  So,
    starting from the primary pattern (1-7 hidden), every equation with exactly one hidden
    cell gets a second one - a non-zero remainder if the equation has one, else the smallest
    non-zero shown part, then a non-zero total, then a zero - repeated until no equation has
    exactly one.  Above it becomes ``West -, Oost -, Zuid 250`` (Oost is the smallest other
    part); Utrecht, published elsewhere, shows 375.  The total counts as a cell of its
    equation: with a total *row* ``Utrecht 6`` over ``West 6, Oost 0`` both 6s are hidden by
    the primary rule and that is already two hidden cells; a hidden total with a single hidden
    part (possible after cascades) gets a second part hidden too.

    Once column totals are declared, cells sit in two equations (their group's column and
    their row), and "0 or >= 2 hidden per equation" is not enough: hidden cells linked by a
    chain through rows and columns can be solved together.  For example, two rectangles of
    four hidden cells each, joined by one hidden cell on a row with two hidden cells of the
    first rectangle and a column with two of the second, leave at least two hidden cells in
    every line, yet the joining cell is determined (it lies on no cycle of hidden cells).  So
    after the line rule the whole system is checked by linear algebra - a hidden cell is
    determined exactly when every vector of the null space of the equations (restricted to
    the hidden cells) is zero in its place - and while some hidden cell is determined, one
    more cell of one of its equations is hidden and both checks run again.  Values the reader
    could only *bound* using non-negativity or the knowledge that hidden primary cells lie in
    1-7 (interval disclosure) are outside this check; preferring non-zero complementary cells
    keeps those intervals wide.

    Counts are rounded after the pattern is fixed; rates and derived figures are nulled last.
    """
    count_columns = list(count_columns)
    groups = list(groups)
    column_totals = _relation_pairs(column_totals)
    rates = dict(rates or {})
    derived = {k: list(v) for k, v in (derived or {}).items()}
    _validate(df, count_columns, groups, total_flag, column_totals, rates, derived)

    n_rows = df.height

    # Canonical row order: sorted by content, so row order of the input cannot matter.
    sort_keys = [c for c in df.columns if _sortable(df.schema[c])]
    perm = (
        df.with_row_index("__row__")
        .sort(sort_keys, nulls_last=True, maintain_order=True)
        .get_column("__row__")
        .to_numpy()
        .astype(np.int64)
    )
    canon = df[perm]
    columns = [_as_counts(canon.get_column(c).to_numpy(), c) for c in count_columns]
    col_index = {c: j for j, c in enumerate(count_columns)}
    relations: list[tuple[int, list[int]]] = []  # (total column, part columns incl. remainder)
    for total, parts in column_totals:
        part_idx = [col_index[p] for p in parts]
        remainder = columns[col_index[total]] - sum(
            (columns[j] for j in part_idx), np.zeros(n_rows, np.int64)
        )
        if remainder.any():
            part_idx.append(len(columns))
            columns.append(remainder)
        relations.append((col_index[total], part_idx))
    values = np.column_stack(columns) if n_rows else np.zeros((0, len(columns)), dtype=np.int64)
    internal = np.arange(values.shape[1]) >= len(count_columns)  # remainders: never shown
    is_total_row = (
        canon.get_column(total_flag).to_numpy().astype(bool) if total_flag else np.zeros(n_rows, dtype=bool)
    )

    equations = _equations(canon, values, groups, is_total_row, relations, count_columns)

    hidden = (values >= PRIMARY_MIN) & (values <= PRIMARY_MAX)
    _secondary(equations, values, hidden, internal)

    published = np.where(hidden, -1, _round(values))
    out_counts = {}
    for j, c in enumerate(count_columns):
        col = np.empty(n_rows, dtype=np.int64)
        col[perm] = published[:, j]
        mask = np.zeros(n_rows, dtype=bool)
        mask[perm] = hidden[:, j]
        out_counts[c] = pl.Series(c, col, dtype=pl.Int64).scatter(np.flatnonzero(mask), None)
    result = df.with_columns(list(out_counts.values()))

    shown = {c: ~out_counts[c].is_null().to_numpy() for c in count_columns}
    # rates from the published (rounded) counts: from exact ones they would give the exact
    # counts back (a rounded denominator and a precise percentage pin the numerator)
    raw = {c: out_counts[c].fill_null(0).to_numpy().astype(float) for c in count_columns}
    new_cols = []
    for name, rate in rates.items():
        ok = shown[rate.numerator] & shown[rate.denominator] & (raw[rate.denominator] > 0)
        value = rate_if_shown(raw[rate.numerator], raw[rate.denominator], ok, ok, per=rate.per)
        new_cols.append(pl.Series(name, value, dtype=pl.Float64).fill_nan(None))
        if rate.interval:
            lower, upper = wilson_interval(
                np.where(ok, raw[rate.numerator], 0.0), np.where(ok, raw[rate.denominator], 1.0)
            )
            new_cols.append(pl.Series(f"{name}_lower", np.where(ok, lower * rate.per, np.nan)).fill_nan(None))
            new_cols.append(pl.Series(f"{name}_upper", np.where(ok, upper * rate.per, np.nan)).fill_nan(None))
    for name, inputs in derived.items():
        ok = np.logical_and.reduce([shown[c] for c in inputs])
        figure = df.get_column(name).cast(pl.Float64)
        new_cols.append(figure.scatter(np.flatnonzero(~ok), None).fill_nan(None))
    if new_cols:
        result = result.with_columns(new_cols)
    return result


def _relation_pairs(
    column_totals: Mapping[str, Sequence[str]] | Sequence[tuple[str, Sequence[str]]] | None,
) -> list[tuple[str, list[str]]]:
    """``column_totals`` as a list of ``(total, parts)`` pairs (a mapping allows one per total)."""
    if not column_totals:
        return []
    pairs = column_totals.items() if isinstance(column_totals, Mapping) else column_totals
    out = []
    for pair in pairs:
        total, parts = pair
        if isinstance(parts, str):
            raise ValueError(f"column_totals: the parts of {total!r} must be a list of column names")
        out.append((total, list(parts)))
    return out


def _sortable(dtype: pl.DataType) -> bool:
    return not isinstance(dtype, (pl.List, pl.Array, pl.Struct, pl.Object))


def _validate(
    df: pl.DataFrame,
    count_columns: list[str],
    groups: list[str],
    total_flag: str | None,
    column_totals: list[tuple[str, list[str]]],
    rates: dict[str, Rate],
    derived: Mapping[str, Sequence[str]],
) -> None:
    if not count_columns:
        raise ValueError("count_columns must name at least one column")
    if len(set(count_columns)) != len(count_columns):
        raise ValueError("count_columns has duplicates")
    missing = [
        c
        for c in [*count_columns, *groups, *([total_flag] if total_flag else []), *derived]
        if c not in df.columns
    ]
    if missing:
        raise ValueError(f"columns not in the table: {missing}")
    overlap = set(groups) & set(count_columns)
    if overlap:
        raise ValueError(f"columns both group and count: {sorted(overlap)}")
    for c in count_columns:
        if not df.schema[c].is_integer() and not df.schema[c].is_float():
            raise ValueError(f"count column {c!r} is not numeric")
        if df.get_column(c).null_count():
            raise ValueError(f"count column {c!r} has missing values")
    if total_flag is not None:
        if df.schema[total_flag] != pl.Boolean or df.get_column(total_flag).null_count():
            raise ValueError(f"total_flag column {total_flag!r} must be boolean without nulls")
        per_group = (
            df.group_by(groups).agg(pl.col(total_flag).sum().alias("n"))
            if groups
            else pl.DataFrame({"n": [df.get_column(total_flag).sum()]})
        )
        most = per_group.get_column("n").max()
        if isinstance(most, int) and most > 1:
            raise ValueError("more than one total row in a group")
    for total, parts in column_totals:
        for c in (total, *parts):
            if c not in count_columns:
                raise ValueError(f"column_totals names {c!r}, which is not a count column")
        if total in parts or len(set(parts)) != len(parts) or not parts:
            raise ValueError(f"column_totals[{total!r}] must list distinct parts other than the total")
        if df.height and (df.select(pl.sum_horizontal(parts) > pl.col(total)).to_series().any()):
            raise ValueError(f"{parts} add up to more than {total!r} in some row")
    for name, rate in rates.items():
        if name in df.columns or name in derived:
            raise ValueError(f"rate column {name!r} would overwrite a column")
        for c in (rate.numerator, rate.denominator):
            if c not in count_columns:
                raise ValueError(f"rate {name!r} uses {c!r}, which is not a count column")
        if rate.interval:
            if f"{name}_lower" in df.columns or f"{name}_upper" in df.columns:
                raise ValueError(f"interval columns of {name!r} would overwrite columns")
            if (df.get_column(rate.numerator) > df.get_column(rate.denominator)).any():
                raise ValueError(f"rate {name!r}: an interval needs numerator <= denominator")
    for name, inputs in derived.items():
        if name in count_columns or not inputs:
            raise ValueError(f"derived column {name!r} must be a non-count column with count inputs")
        for c in inputs:
            if c not in count_columns:
                raise ValueError(f"derived column {name!r} depends on {c!r}, which is not a count column")


def _equations(
    canon: pl.DataFrame,
    values: np.ndarray,
    groups: list[str],
    is_total_row: np.ndarray,
    relations: list[tuple[int, list[int]]],
    count_columns: list[str],
) -> list[_Equation]:
    n_rows, n_cols = values.shape
    members: dict[tuple[Any, ...], list[int]] = {}
    keys = canon.select(groups).rows() if groups else [()] * n_rows
    for r, key in enumerate(keys):
        members.setdefault(key, []).append(r)  # dict keeps first-seen (canonical) order

    equations: list[_Equation] = []
    for key, rows in members.items():
        parts = [r for r in rows if not is_total_row[r]]
        totals = [r for r in rows if is_total_row[r]]
        for j in range(n_cols):
            if totals and parts:
                t = totals[0]
                if values[parts, j].sum() != values[t, j]:
                    name = count_columns[j] if j < len(count_columns) else "a remainder"
                    raise ValueError(f"total row of group {key!r} is not the sum of its parts in {name}")
                equations.append(_Equation([(r, j) for r in parts] + [(t, j)], (t, j)))
            elif len(parts) >= 2:
                equations.append(_Equation([(r, j) for r in parts], None))
    for tj, part_idx in relations:
        for r in range(n_rows):
            equations.append(_Equation([(r, j) for j in part_idx] + [(r, tj)], (r, tj)))
    return equations


def _candidates(
    eq: _Equation, values: np.ndarray, hidden: np.ndarray, internal: np.ndarray
) -> list[tuple[tuple[Any, ...], tuple[int, int]]]:
    """Shown cells of ``eq`` that may be hidden as complementary cells, best first.

    Preference: non-zero before zero (a hidden 0 next to a hidden 1-7 protects little); among
    non-zero cells a never-shown remainder first (hiding it is free), among zeros a remainder
    last; then a part before the total, smaller before larger, then the canonical position.
    """
    options = []
    for r, j in eq.cells:
        if hidden[r, j]:
            continue
        v = int(values[r, j])
        remainder_rank = bool(internal[j]) if v == 0 else not internal[j]
        options.append(((v == 0, remainder_rank, (r, j) == eq.total, v, r, j), (r, j)))
    return sorted(options)


def _secondary(
    equations: list[_Equation], values: np.ndarray, hidden: np.ndarray, internal: np.ndarray
) -> None:
    """Extend ``hidden`` in place until no hidden cell can be recovered from the equations."""
    while True:
        # Line rule: no equation with exactly one hidden cell.
        changed = True
        while changed:
            changed = False
            for eq in equations:
                n_hidden = sum(hidden[c] for c in eq.cells)
                if n_hidden == 1:
                    options = _candidates(eq, values, hidden, internal)  # >= 1 shown cell
                    hidden[options[0][1]] = True
                    changed = True
        # System check: hidden cells determined by several equations together.
        determined = _determined_cells(equations, hidden)
        if not determined:
            return
        for cell in determined:
            # the cell's own equations first; when those are fully hidden, the equations that
            # share a hidden cell with them, and so on outwards (never give up: hide more)
            reach = {cell}
            while True:
                touching = [eq for eq in equations if any(c in reach for c in eq.cells)]
                options = sorted(o for eq in touching for o in _candidates(eq, values, hidden, internal))
                if options:
                    hidden[min(options)[1]] = True
                    break
                grown = reach | {c for eq in touching for c in eq.cells}
                if grown == reach:
                    break
                reach = grown
            if options:
                break
        else:
            # every equation around the determined cells is hidden and they still follow from a
            # total assumed known elsewhere: nothing in this table can hide them further
            return


def _determined_cells(equations: list[_Equation], hidden: np.ndarray) -> list[tuple[int, int]]:
    """Hidden cells whose value follows from the equations and the shown cells (sorted).

    The shown cells are moved to the right-hand side, leaving ``A x = b`` in the hidden cells
    ``x``.  ``x_k`` is fixed by the system exactly when every vector of the null space of ``A``
    has a zero k-th component.  Worked per connected component of hidden cells.
    """
    # signs: parts +1, total -1 (the sign pattern matters for the null space)
    signed = []
    for eq in equations:
        cells = [(c, -1.0 if c == eq.total else 1.0) for c in eq.cells if hidden[c]]
        if cells:
            signed.append(cells)
    if not signed:
        return []
    # union-find over hidden cells that share an equation
    parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(x: tuple[int, int]) -> tuple[int, int]:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for cells in signed:
        first = find(cells[0][0])
        for c, _ in cells[1:]:
            root = find(c)
            if root != first:
                parent[root] = first
    components: dict[tuple[int, int], list[int]] = {}
    for i, cells in enumerate(signed):
        components.setdefault(find(cells[0][0]), []).append(i)

    determined: list[tuple[int, int]] = []
    for eq_ids in components.values():
        unknowns = sorted({c for i in eq_ids for c, _ in signed[i]})
        index = {c: k for k, c in enumerate(unknowns)}
        a = np.zeros((len(eq_ids), len(unknowns)))
        for row, i in enumerate(eq_ids):
            for c, sign in signed[i]:
                a[row, index[c]] = sign
        _, s, vt = np.linalg.svd(a, full_matrices=True)
        rank = int((s > 1e-9 * max(1.0, s.max(initial=0.0))).sum())
        null = vt[rank:].T  # columns span the null space
        fixed = np.linalg.norm(null, axis=1) < 1e-9 if null.size else np.ones(len(unknowns), dtype=bool)
        determined.extend(c for c, f in zip(unknowns, fixed, strict=True) if f)
    return sorted(determined)
