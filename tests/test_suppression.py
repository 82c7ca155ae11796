"""Tests for omu.dashboards.suppression: the published rule (docs/dashboards.md), examples, and properties on random tables.

The disclosure checks here are written independently of the module: the additive equations are
rebuilt from the table's declared structure, and a hidden cell counts as recoverable when it is
fixed by those equations given the shown cells, tested with the projector onto the row space
of the equations (cell k is fixed exactly when e_k lies in that row space, i.e. P[k, k] = 1).
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omu.dashboards.stats import wilson_interval
from omu.dashboards.suppression import Rate, rate_if_shown, suppress_count, suppress_table

# ----------------------------------------------------------------------------- independent checker


def equations(df: pl.DataFrame, counts, groups=(), total_flag=None, column_totals=None):
    """The reader's equations, each a list of ((row, column), sign), and the remainder cells.

    A ``column_totals`` entry whose parts do not always fill the total leaves a remainder
    ``total - sum(parts)`` per row: never shown, but published by subtraction.  Its cells are
    ``(row, ("rest", total))``; they are returned with their values.
    """
    columns = {c: df.get_column(c).to_list() for c in counts}
    remainders = {}
    relations = []
    for total, parts in (column_totals or {}).items():
        rest = [t - sum(p) for t, *p in zip(columns[total], *(columns[q] for q in parts), strict=True)]
        rel = list(parts)
        if any(rest):
            name = ("rest", total)
            columns[name] = rest
            rel.append(name)
            remainders.update({(r, name): v for r, v in enumerate(rest)})
        relations.append((total, rel))
    eqs = []
    keys = df.select(groups).rows() if groups else [()] * df.height
    flags = df.get_column(total_flag).to_list() if total_flag else [False] * df.height
    for key in dict.fromkeys(keys):
        rows = [r for r in range(df.height) if keys[r] == key]
        parts = [r for r in rows if not flags[r]]
        totals = [r for r in rows if flags[r]]
        for c in columns:
            if totals and parts:
                eqs.append([((r, c), 1) for r in parts] + [((totals[0], c), -1)])
            elif len(parts) >= 2:  # the total is assumed known elsewhere
                eqs.append([((r, c), 1) for r in parts])
    for total, parts in relations:
        for r in range(df.height):
            eqs.append([((r, p), 1) for p in parts] + [((r, total), -1)])
    return eqs, remainders


def hidden_cells(out: pl.DataFrame, counts) -> set:
    return {(r, c) for c in counts for r, v in enumerate(out.get_column(c).to_list()) if v is None}


def recoverable(eqs, unknown: set) -> set:
    """Unknown cells whose exact value follows from the equations and the known cells."""
    unknowns = sorted(unknown, key=repr)
    if not unknowns:
        return set()
    index = {cell: k for k, cell in enumerate(unknowns)}
    rows = []
    for eq in eqs:
        row = np.zeros(len(unknowns))
        for cell, sign in eq:
            if cell in index:
                row[index[cell]] = sign
        if row.any():
            rows.append(row)
    if not rows:
        return set()
    a = np.array(rows)
    projector = np.linalg.pinv(a) @ a
    return {cell for cell, k in index.items() if projector[k, k] > 1 - 1e-8}


def assert_protected(df, out, counts, groups=(), total_flag=None, column_totals=None):
    eqs, remainders = equations(df, counts, groups, total_flag, column_totals)
    hidden = hidden_cells(out, counts)
    for c in counts:
        for original, shown in zip(df.get_column(c).to_list(), out.get_column(c).to_list(), strict=True):
            if 1 <= original <= 7:
                assert shown is None, "primary cell shown"
            if shown is not None:
                assert not 1 <= shown <= 7
                assert shown % 5 == 0
                assert shown == 5 * ((original + 2) // 5)  # nearest multiple of 5
                assert shown == 0 or shown >= 10
    for eq in eqs:  # the line rule: 0 or >= 2 hidden cells per equation (total included)
        if not any(cell in remainders for cell, _ in eq):
            n_hidden = sum(cell in hidden for cell, _ in eq)
            assert n_hidden != 1, f"single hidden cell in {eq}"
    # The whole system: hidden cells and never-shown remainders are unknown to the reader; no
    # hidden cell, and no remainder of 1-7, may follow exactly from what is shown.
    leaked = recoverable(eqs, hidden | set(remainders))
    assert not leaked & hidden, f"hidden cells recoverable: {leaked & hidden}"
    small = {cell for cell, v in remainders.items() if 1 <= v <= 7}
    assert not leaked & small, f"small remainders recoverable: {leaked & small}"


# ----------------------------------------------------------------------------- suppress_count


@pytest.mark.parametrize(
    ("n", "expected"),
    [(0, 0), (1, None), (4, None), (7, None), (8, 10), (9, 10), (10, 10), (12, 10), (13, 15),
     (17, 15), (18, 20), (22, 20), (23, 25), (1002, 1000), (1003, 1005)],
)  # fmt: skip
def test_suppress_count_scalar(n, expected):
    assert suppress_count(n) == expected
    assert suppress_count(np.int64(n)) == expected


def test_suppress_count_vectors():
    arr = suppress_count(np.array([0, 3, 8, 12, 13]))
    np.testing.assert_array_equal(arr, [0.0, np.nan, 10.0, 10.0, 15.0])
    ser = suppress_count(pl.Series("n", [0, 3, 8, 12, 13]))
    assert ser.dtype == pl.Int64 and ser.name == "n"
    assert ser.to_list() == [0, None, 10, 10, 15]
    assert suppress_count([7, 8]).tolist()[1] == 10
    for bad in (-1, 2.5, float("nan"), True):
        with pytest.raises(ValueError):
            suppress_count(bad)
    with pytest.raises(ValueError):
        suppress_count(pl.Series([1, None]))


@given(st.integers(0, 10**9))
def test_suppress_count_rule(n):
    out = suppress_count(n)
    if 1 <= n <= 7:
        assert out is None
    else:
        assert out % 5 == 0 and abs(out - n) <= 2 and (out == 0) == (n == 0)


def test_rate_if_shown():
    out = rate_if_shown(
        [5, 50, 50, 3], [100, 0, 200, 10], [True, True, True, False], [True, True, False, True], 100
    )
    assert out[0] == pytest.approx(5.0)
    assert all(math.isnan(v) for v in out[1:])


# ----------------------------------------------------------------------------- documented examples


def test_docstring_example_single_hidden_wijk_gets_a_partner():
    # West 3, Oost 120, Zuid 250; Utrecht 373 is known elsewhere: 373 - 120 - 250 = 3.
    df = pl.DataFrame({"wijk": ["West", "Oost", "Zuid"], "n": [3, 120, 250]})
    out = suppress_table(df, count_columns=["n"])
    assert out.get_column("n").to_list() == [None, None, 250]
    assert out.get_column("wijk").to_list() == ["West", "Oost", "Zuid"]


def test_total_row_counts_as_a_cell_of_its_equation():
    df = pl.DataFrame({"wijk": ["West", "Oost", "Utrecht"], "n": [6, 0, 6], "total": [False, False, True]})
    out = suppress_table(df, count_columns=["n"], total_flag="total")
    assert out.get_column("n").to_list() == [None, 0, None]  # two hidden cells: enough
    df = pl.DataFrame(
        {
            "wijk": ["West", "Oost", "Zuid", "Utrecht"],
            "n": [5, 40, 60, 105],
            "total": [False, False, False, True],
        }
    )
    out = suppress_table(df, count_columns=["n"], total_flag="total")
    assert out.get_column("n").to_list() == [None, None, 60, 105]


def test_zero_is_shown_and_avoided_as_complementary_cell():
    df = pl.DataFrame({"wijk": list("ABCDE"), "n": [3, 0, 0, 40, 50]})
    out = suppress_table(df, count_columns=["n"])
    assert out.get_column("n").to_list() == [None, 0, 0, None, 50]
    # only zeros left as partners: a zero is hidden rather than leak the 3
    df = pl.DataFrame({"wijk": list("ABC"), "n": [3, 0, 0]})
    assert suppress_table(df, count_columns=["n"]).get_column("n").to_list() == [None, None, 0]


def test_groups_are_separate_and_single_part_groups_have_no_equation():
    df = pl.DataFrame(
        {
            "quarter": ["2026Q1"] * 3 + ["2026Q2"] * 3 + ["2026Q3"],
            "wijk": ["A", "B", "C"] * 2 + ["A"],
            "n": [3, 100, 200, 30, 100, 200, 4],
        }
    )
    out = suppress_table(df, count_columns=["n"], groups=["quarter"])
    assert out.get_column("n").to_list() == [None, None, 200, 30, 100, 200, None]


def test_complement_is_protected_via_column_totals():
    # invited 50, reached 46 publishes "not reached = 4" by subtraction; declaring
    # {"invited": ["reached"]} protects that remainder like a shown count of 4.
    df = pl.DataFrame(
        {
            "wijk": ["A", "B", "C"],
            "invited": [50, 300, 250],
            "reached": [46, 120, 100],
        }
    )
    spec = dict(count_columns=["invited", "reached"], column_totals={"invited": ["reached"]})
    out = suppress_table(df, **spec, rates={"pct": Rate("reached", "invited")})
    assert_protected(df, out, spec["count_columns"], column_totals=spec["column_totals"])
    row_a = out.row(0, named=True)
    assert row_a["invited"] is None or row_a["reached"] is None
    assert row_a["pct"] is None
    assert out.columns == ["wijk", "invited", "reached", "pct"]  # the remainder is not output
    # Without the declaration the 4 would leak: the module only protects declared relations.
    plain = suppress_table(df, count_columns=["invited", "reached"])
    assert plain.row(0) == ("A", 50, 45)


def test_complete_partition_adds_no_remainder():
    df = pl.DataFrame({"w": ["A", "B"], "registered": [2000, 3000], "over": [1996, 300], "below": [4, 2700]})
    spec = dict(
        count_columns=["registered", "over", "below"], column_totals={"registered": ["over", "below"]}
    )
    out = suppress_table(df, **spec)
    assert_protected(df, out, spec["count_columns"], column_totals=spec["column_totals"])
    assert out.row(0, named=True)["below"] is None


def test_two_way_table_needs_more_than_the_line_rule():
    # Two rectangles of hidden cells (A: rows 0-1 x columns c1-c2; B: rows 2-3 x columns c3-c4)
    # joined by the cell (row 1, c3).  Every row and column then has 0 or >= 2 hidden cells,
    # yet the joining cell lies on no cycle of hidden cells and is determined exactly.
    big = 100
    cells = np.full((4, 4), big)
    for r, c in [(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (2, 3), (3, 2), (3, 3), (1, 2)]:
        cells[r, c] = 3
    cols = ["c1", "c2", "c3", "c4"]
    body = {c: list(cells[:, j]) for j, c in enumerate(cols)}
    df = pl.DataFrame({"wijk": ["A", "B", "C", "D"], **body, "total": list(cells.sum(axis=1))})
    df = pl.concat(
        [
            df.with_columns(pl.lit(False).alias("is_total")),
            pl.DataFrame(
                {"wijk": ["Utrecht"], **{c: [int(cells[:, j].sum())] for j, c in enumerate(cols)},
                 "total": [int(cells.sum())], "is_total": [True]}
            ),
        ]
    )  # fmt: skip
    counts = [*cols, "total"]
    spec = dict(count_columns=counts, total_flag="is_total", column_totals={"total": cols})
    eqs, remainders = equations(df, counts, (), "is_total", spec["column_totals"])
    assert not remainders
    primary = {(r, c) for c in counts for r, v in enumerate(df.get_column(c).to_list()) if 1 <= v <= 7}
    assert all(sum(cell in primary for cell, _ in eq) != 1 for eq in eqs)  # line rule satisfied
    assert recoverable(eqs, primary) == {(1, "c3")}  # ... but the joining cell leaks
    out = suppress_table(df, **spec)
    assert_protected(df, out, counts, (), "is_total", spec["column_totals"])


def test_rates_from_published_counts_only_where_both_shown():
    df = pl.DataFrame(
        {"wijk": ["A", "B", "C", "D"], "crossers": [3, 12, 130, 0], "registered": [900, 1013, 4000, 0]}
    )
    out = suppress_table(
        df,
        count_columns=["crossers", "registered"],
        rates={
            "per_1000": Rate("crossers", "registered", per=1000),
            "pct": Rate("crossers", "registered", interval=True),
        },
    )
    assert out.get_column("crossers").to_list() == [None, None, 130, 0]
    assert out.get_column("per_1000").to_list()[:2] == [None, None]
    assert out.get_column("per_1000")[2] == pytest.approx(1000 * 130 / 4000)  # 130 and 4000 as published
    assert out.get_column("per_1000")[3] is None  # 0 / 0
    lo, hi = wilson_interval(130, 4000)
    assert out.get_column("pct_lower")[2] == pytest.approx(100 * lo)
    assert out.get_column("pct_upper")[2] == pytest.approx(100 * hi)
    assert out.get_column("pct_lower")[0] is None


def test_derived_figures_follow_their_counts():
    df = pl.DataFrame(
        {
            "wijk": ["A", "B", "C"],
            "events": [5, 30, 200],
            "dsr": [float("nan"), 120.0, 90.0],  # nan: fewer than 10 events, not computed
            "dsr_lower": [float("nan"), 80.0, 78.0],
        }
    )
    out = suppress_table(df, count_columns=["events"], derived={"dsr": ["events"], "dsr_lower": ["events"]})
    assert out.get_column("events").to_list() == [None, None, 200]
    assert out.get_column("dsr").to_list() == [None, None, 90.0]
    assert out.get_column("dsr_lower").to_list() == [None, None, 78.0]


def test_invalid_tables_are_refused():
    good = pl.DataFrame({"w": ["A", "B"], "n": [3, 10], "t": [13, 10]})
    with pytest.raises(ValueError):
        suppress_table(good.with_columns(pl.Series("n", [3, None])), count_columns=["n"])
    with pytest.raises(ValueError):
        suppress_table(good.with_columns(pl.Series("n", [-3, 10])), count_columns=["n"])
    with pytest.raises(ValueError):
        suppress_table(good.with_columns(pl.Series("n", [3.5, 10.0])), count_columns=["n"])
    with pytest.raises(ValueError):  # parts exceed their declared total
        suppress_table(good, count_columns=["n", "t"], column_totals={"n": ["t"]})
    with pytest.raises(ValueError):  # total row does not add up
        suppress_table(
            pl.DataFrame({"n": [3, 10, 12], "tot": [False, False, True]}),
            count_columns=["n"],
            total_flag="tot",
        )
    with pytest.raises(ValueError):  # rate on a column that is not protected
        suppress_table(good, count_columns=["n"], rates={"r": Rate("n", "t")})
    with pytest.raises(ValueError):
        suppress_table(good, count_columns=["missing"])


def test_empty_table():
    df = pl.DataFrame({"w": [], "n": []}, schema={"w": pl.String, "n": pl.Int64})
    out = suppress_table(df, count_columns=["n"], rates={"r": Rate("n", "n")})
    assert out.height == 0 and "r" in out.columns


# ----------------------------------------------------------------------------- random tables

small_heavy_counts = st.one_of(
    st.just(0), st.integers(1, 7), st.integers(1, 7), st.integers(8, 20), st.integers(21, 5000)
)


@st.composite
def tables(draw):
    """Random quarters of random wijken: 2-3 count columns, maybe a total row, maybe a total
    column over them (a complete partition), maybe a denominator ``den`` of which ``c0`` is a
    part (a proportion, with a remainder that is never shown)."""
    n_groups = draw(st.integers(1, 3))
    n_cols = draw(st.integers(2, 3))
    with_total_row = draw(st.booleans())
    with_total_col = draw(st.booleans())
    with_denominator = draw(st.booleans())
    cols = [f"c{j}" for j in range(n_cols)]
    value_cols = [*cols, "den"] if with_denominator else cols
    rows = []
    for g in range(n_groups):
        part_rows = []
        for i in range(draw(st.integers(1, 7))):
            row = {"quarter": f"2026Q{g + 1}", "wijk": f"W{i:02d}", "is_total": False}
            row.update({c: draw(small_heavy_counts) for c in cols})
            if with_denominator:
                row["den"] = row["c0"] + draw(small_heavy_counts)
            part_rows.append(row)
        rows += part_rows
        if with_total_row and draw(st.sampled_from([True, True, True, False])):
            total = {"quarter": f"2026Q{g + 1}", "wijk": "Utrecht", "is_total": True}
            total.update({c: sum(r[c] for r in part_rows) for c in value_cols})
            rows.append(total)
    df = pl.DataFrame(rows)
    counts = list(value_cols)
    column_totals = {}
    rates = {"ratio": Rate("c0", "c1", per=1)}
    if with_total_col:
        df = df.with_columns(pl.sum_horizontal(cols).alias("total"))
        counts.append("total")
        column_totals["total"] = cols
        rates["pct"] = Rate("c0", "total")
    if with_denominator:
        column_totals["den"] = ["c0"]
        rates["share"] = Rate("c0", "den", interval=True)
    spec = dict(
        count_columns=counts,
        groups=["quarter"],
        total_flag="is_total" if with_total_row else None,
        column_totals=column_totals or None,
        rates=rates,
    )
    return df, spec


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(tables())
def test_random_tables_are_protected(table):
    df, spec = table
    out = suppress_table(df, **spec)
    assert out.height == df.height
    assert out.select("quarter", "wijk", "is_total").equals(df.select("quarter", "wijk", "is_total"))
    assert_protected(
        df, out, spec["count_columns"], spec["groups"], spec["total_flag"], spec["column_totals"]
    )
    for name, rate in spec["rates"].items():
        shown = out.get_column(rate.numerator).is_not_null() & out.get_column(rate.denominator).is_not_null()
        values = out.get_column(name)
        for ok, v, num, den in zip(
            shown, values, out.get_column(rate.numerator), out.get_column(rate.denominator), strict=True
        ):  # from the published (rounded) counts, never the exact ones
            if not ok or den == 0:
                assert v is None
            else:
                assert v == pytest.approx(rate.per * num / den)


@PROPERTY_SETTINGS
@given(tables(), st.randoms(use_true_random=False))
def test_random_tables_deterministic_and_row_order_free(table, rnd):
    df, spec = table
    first = suppress_table(df, **spec)
    assert first.equals(suppress_table(df, **spec))
    order = list(range(df.height))
    rnd.shuffle(order)
    shuffled = suppress_table(df[order], **spec)
    key = ["quarter", "wijk"]
    assert shuffled.sort(key).equals(first.sort(key))


def test_three_practices_that_used_to_raise():
    """(registered, listed, reached, referred) = (11, 9, 4, 2), (44, 1, 1, 1), (45, 9, 3, 3): the
    determined cells sat in fully hidden equations and the old search gave up with RuntimeError;
    now it looks further out and hides more."""
    df = pl.DataFrame(
        {
            "level": ["regio", "praktijk", "praktijk", "praktijk"],
            "registered": [100, 11, 44, 45],
            "listed": [19, 9, 1, 9],
            "reached": [8, 4, 1, 3],
            "referred": [6, 2, 1, 3],
        }
    )
    spec = {
        "count_columns": ["registered", "listed", "reached", "referred"],
        "groups": ["level"],
        "column_totals": [
            ("registered", ["listed"]),
            ("listed", ["reached"]),
            ("reached", ["referred"]),
            ("listed", ["referred"]),
        ],
    }
    out = suppress_table(df, **spec)
    assert out.get_column("referred").null_count() == 4
    assert out.filter(pl.col("level") == "praktijk").get_column("listed").null_count() == 3
