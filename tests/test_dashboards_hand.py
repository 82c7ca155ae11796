"""Regional indicators on hand-made stores: figures checked against a hand computation, and the
suppression rule checked on random small regions (hypothesis) through the whole indicator path.

The stores here hold score_history rows written directly (no ingest, no screening run), so every
expected figure can be worked out by hand from the rows below.
"""

from __future__ import annotations

import datetime as dt
import math

import duckdb
import numpy as np
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omu.dashboards.disclosure import audit
from omu.dashboards.indicators import (
    FUNNEL_ABOVE,
    FUNNEL_BELOW,
    _earlier_versions,
    derived_violations,
    ledger_violations,
    person_count_columns,
    read_indicators,
    store_indicators,
    suppression_spec,
    to_long,
    to_wide,
)
from omu.dashboards.page import key_findings, render
from omu.dashboards.suppression import Rate, suppress_table
from omu.screening.profile import DEFAULT_PROFILE, load_profile
from omu.screening.screen import prepare_screening_store
from omu.sql import run_sql

PROFILE = load_profile(DEFAULT_PROFILE)
CHARS = [c.id for c in PROFILE.characteristics]
ESP = np.array(
    [
        5000,
        5500,
        5500,
        5500,
        6000,
        6000,
        6500,
        7000,
        7000,
        7000,
        7000,
        6500,
        6000,
        5500,
        5000,
        4000,
        2500,
        1500,
        1000,
    ],
    dtype=float,
)
OVERVECHT, OOST, BINNENSTAD = "WK034403", "WK034405", "WK034406"


def round5(n: int) -> int:
    return 5 * ((n + 2) // 5)


def new_store() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect(":memory:")
    prepare_screening_store(conn, PROFILE)
    run_sql(conn, "outreach/schema")
    return conn


def insert_people(conn: duckdb.DuckDBPyConnection, people: pl.DataFrame) -> None:
    """people: practice_id, quarter, patient_id, age, wijk_code, over_threshold, backfilled and some
    characteristic columns (missing ones are false)."""
    frame = people.with_columns(
        pl.lit(PROFILE.name).alias("profile_name"),
        pl.lit(PROFILE.version).alias("profile_version"),
        pl.lit(dt.date(2026, 9, 30)).alias("reference_date"),
        pl.col("quarter").alias("source_quarter"),
        pl.lit("V").alias("sex"),
        pl.lit(0).alias("score"),
        pl.lit(dt.datetime(2026, 10, 1)).alias("screened_at"),
        *[pl.lit(False).alias(c) for c in CHARS if c not in people.columns],
    )
    conn.register("people_frame", frame)
    conn.execute("INSERT INTO score_history BY NAME SELECT * FROM people_frame")
    conn.unregister("people_frame")


# --------------------------------------------------------------------------------------------
# A region worked out by hand
# --------------------------------------------------------------------------------------------
#
# P0001: 300 patients A000..A299, all in Overvecht, age i % 95; over the threshold when i % 10 == 0
#        (30); a backfilled 2026Q2 had i % 20 == 0 over (15), so 15 are first-time and 15 baseline.
#        Its 2026Q3 outreach list: A000..A039 (40): 20 bereikt, 10 verwezen (9 buurtteam, 1
#        apotheker), 5 niet bereikt, 3 al in zorg, 2 without an outcome yet.
# P0002: 350 patients B000..B349, age 20 + i % 75; i < 200 Overvecht, 200..346 Oost (147),
#        347..349 Binnenstad (3); over when i % 5 < 2 (140), all first-time (no backfill).
# lives_alone when i % 4 == 0; older_than_55 when age >= 56.


def hand_people() -> pl.DataFrame:
    rows = []
    for i in range(300):
        age = i % 95
        for quarter, backfilled, over in (("2026Q3", False, i % 10 == 0), ("2026Q2", True, i % 20 == 0)):
            rows.append(
                ("P0001", quarter, f"A{i:03d}", age, OVERVECHT, over, backfilled, i % 4 == 0, age >= 56)
            )
    for i in range(350):
        age = 20 + i % 75
        wijk = OVERVECHT if i < 200 else OOST if i < 347 else BINNENSTAD
        rows.append(("P0002", "2026Q3", f"B{i:03d}", age, wijk, i % 5 < 2, False, i % 4 == 0, age >= 56))
    return pl.DataFrame(
        rows,
        schema=[
            "practice_id",
            "quarter",
            "patient_id",
            "age",
            "wijk_code",
            "over_threshold",
            "backfilled",
            "lives_alone",
            "older_than_55",
        ],
        orient="row",
    )


@pytest.fixture(scope="module")
def hand_store():
    conn = new_store()
    people = hand_people()
    insert_people(conn, people)
    lists = pl.DataFrame(
        {
            "patient_id": [f"A{i:03d}" for i in range(40)] + ["A100", "A110"],
            "list_kind": ["outreach"] * 40 + ["baseline", "outreach"],
            "listed": [True] * 41 + [False],
        }
    )
    conn.register("lists_frame", lists)
    conn.execute("""INSERT INTO outreach_lists BY NAME
        SELECT 'P0001' AS practice_id, '2026Q3' AS quarter, patient_id, 'omu-basis' AS profile_name,
               1 AS profile_version, list_kind, 'nieuw' AS inclusion, 1 AS rank, listed, 3 AS score, 70 AS age,
               'V' AS sex, '' AS reasons, '' AS next_steps, '' AS notes, 0 AS earlier_attempts,
               now() AS created_at FROM lists_frame""")
    outcomes = (
        [("bereikt", None)] * 20
        + [("verwezen", "buurtteam")] * 9
        + [("verwezen", "apotheker")]
        + [("niet_bereikt", None)] * 5
        + [("al_in_zorg", None)] * 3
    )
    conn.executemany(
        "INSERT INTO outreach_outcomes VALUES ('P0001', '2026Q3', ?, ?, ?, NULL, NULL, now(), 'hand.csv', 'omu-basis', 1)",
        [[f"A{i:03d}", outcome, target] for i, (outcome, target) in enumerate(outcomes)],
    )
    wide = store_indicators(conn, PROFILE, "2026Q3")
    yield conn, people, wide
    conn.close()


def cell(wide: pl.DataFrame, area: str, column: str, quarter: str = "2026Q3"):
    rows = wide.filter((pl.col("quarter") == quarter) & (pl.col("area_code") == area))
    assert rows.height == 1, (area, rows)
    return rows.get_column(column)[0]


def test_only_delivered_quarters_make_figures(hand_store):
    _, _, wide = hand_store
    assert set(wide.get_column("quarter")) == {"2026Q3"}  # 2026Q2 was backfilled only


def test_region_figures_by_hand(hand_store):
    _, _, wide = hand_store
    assert cell(wide, "REGIO", "registered") == 650
    assert cell(wide, "REGIO", "over_threshold") == 170
    assert cell(wide, "REGIO", "pct_over") == pytest.approx(100 * 170 / 650)
    # Wilson 95 % for 170/650 by hand: centre and half-width from the formula
    z, n, p = 1.959963984540054, 650, 170 / 650
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    assert cell(wide, "REGIO", "pct_over_lower") == pytest.approx(100 * (centre - half))
    assert cell(wide, "REGIO", "pct_over_upper") == pytest.approx(100 * (centre + half))
    assert cell(wide, "REGIO", "first_time") == 155  # 15 + 140
    assert cell(wide, "REGIO", "first_time_per_1000") == pytest.approx(1000 * 155 / 650)
    assert cell(wide, "REGIO", "baseline") == 15
    assert cell(wide, "REGIO", "practices") == 2
    lives_alone = 75 + 88  # i % 4 == 0 for i < 300 and i < 350
    assert cell(wide, "REGIO", "char_n:lives_alone") == round5(lives_alone)
    # rates are computed from the published (rounded) counts, never from exact ones
    assert cell(wide, "REGIO", "char_pct:lives_alone") == pytest.approx(100 * round5(lives_alone) / 650)
    assert cell(wide, "REGIO", "char_n:beta_blocker") == 0
    deprived = 200 + 300  # Overvecht is 'hoog' in clinical/reference/wijken.csv
    assert cell(wide, "REGIO", "pct_in_deprived_wijk") == pytest.approx(100 * deprived / 650)


def test_age_standardised_rate_by_hand(hand_store):
    _, people, wide = hand_store
    q3 = people.filter(~pl.col("backfilled"))
    band = np.minimum(q3.get_column("age").to_numpy() // 5, 18)
    over = q3.get_column("over_threshold").to_numpy()
    # from the band counts rounded to 10 (halves up), never from the exact ones
    population = 10 * ((np.bincount(band, minlength=19) + 5) // 10).astype(float)
    events = 10 * ((np.bincount(band, weights=over.astype(float), minlength=19).astype(int) + 5) // 10)
    expected = 100 * (ESP * np.where(population > 0, events / np.maximum(population, 1), 0)).sum() / ESP.sum()
    assert cell(wide, "REGIO", "dsr_over") == pytest.approx(expected)
    assert cell(wide, "REGIO", "dsr_over_lower") < expected < cell(wide, "REGIO", "dsr_over_upper")


def test_wijk_figures_and_secondary_suppression(hand_store):
    _, _, wide = hand_store
    assert cell(wide, OVERVECHT, "registered") == 500
    assert cell(wide, OVERVECHT, "over_threshold") == 110  # 30 + 80
    assert cell(wide, OVERVECHT, "pct_over") == pytest.approx(22.0)
    assert cell(wide, OVERVECHT, "practices") == 2
    # Binnenstad has 3 people: hidden.  650 - 500 - 147 = 3 would give it away if the counts were
    # exact, but shown rounded (650, 500, 145: each +-2) Binnenstad could be anything from 0 to 11,
    # so Oost may be shown; rates on a hidden count are not shown
    assert cell(wide, BINNENSTAD, "registered") is None
    assert cell(wide, BINNENSTAD, "pct_over") is None
    assert cell(wide, OOST, "registered") == 145
    assert cell(wide, OOST, "pct_over") == pytest.approx(100 * cell(wide, OOST, "over_threshold") / 145)
    # a wijk where nobody lives shows 0 and no rate
    assert cell(wide, "WK034401", "registered") == 0
    assert cell(wide, "WK034401", "pct_over") is None


def test_practices_and_funnel_positions(hand_store):
    _, _, wide = hand_store
    assert cell(wide, "P0001", "registered") == 300
    assert cell(wide, "P0001", "over_threshold") == 30
    assert cell(wide, "P0002", "over_threshold") == 140
    # region 26 %: 10 % at 300 patients is far below, 40 % at 350 far above the 99.8 % limits
    assert cell(wide, "P0001", "funnel_998") == FUNNEL_BELOW
    assert cell(wide, "P0002", "funnel_998") == FUNNEL_ABOVE
    assert cell(wide, "REGIO", "funnel_998") is None  # only practices are placed in the funnel


def test_outreach_funnel_by_hand(hand_store):
    _, _, wide = hand_store
    for area in ("REGIO", "P0001", OVERVECHT):
        assert cell(wide, area, "listed") == 40  # not the baseline row, not the row over capacity
        assert cell(wide, area, "reached") == 30  # 20 bereikt + 10 verwezen
        assert cell(wide, area, "pct_reached") == pytest.approx(75.0)
        assert cell(wide, area, "referred") == 10
        assert cell(wide, area, "pct_referred") == pytest.approx(25.0)
        assert cell(wide, area, "not_reached") is None  # 5
        assert cell(wide, area, "already_in_care") is None  # 3
        # apotheker 1 is hidden; buurtteam 9 is shown as 10: with referred 10 (8-12) a reader
        # knows only that 0-4 went to the apotheker
        assert cell(wide, area, "referred_to:apotheker") is None
        assert cell(wide, area, "referred_to:buurtteam") == 10
        assert cell(wide, area, "referred_to:valpreventie") == 0
    assert cell(wide, "P0002", "listed") == 0


def test_table_is_long_and_round_trips(hand_store):
    conn, _, wide = hand_store
    columns = [
        c
        for (c,) in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'indicators' ORDER BY ordinal_position"
        ).fetchall()
    ]
    assert columns == [
        "quarter",
        "profile_name",
        "profile_version",
        "level",
        "area_code",
        "area_name",
        "indicator",
        "unit",
        "value",
        "lower",
        "upper",
        "computed_at",
    ]
    dupes = conn.execute(
        "SELECT count(*) FROM (SELECT quarter, profile_name, profile_version, level, area_code, "
        "indicator FROM indicators GROUP BY ALL HAVING count(*) > 1)"
    ).fetchall()
    assert dupes == [(0,)]
    back = read_indicators(conn, PROFILE, "2026Q3")
    assert back.columns == wide.columns
    for column in wide.columns:
        left, right = wide.get_column(column), back.get_column(column)
        if left.dtype == pl.Float64:
            assert np.allclose(
                left.fill_null(np.nan).to_numpy(),
                right.cast(pl.Float64).fill_null(np.nan).to_numpy(),
                equal_nan=True,
            ), column
        else:
            assert left.cast(pl.String).to_list() == right.cast(pl.String).to_list(), column
    assert to_wide(to_long(wide, PROFILE, dt.datetime(2026, 1, 1)), PROFILE).shape == wide.shape
    # storing again replaces, never duplicates
    store_indicators(conn, PROFILE, "2026Q3")
    assert conn.execute("SELECT count(*) FROM indicators").fetchall() == [
        (len(to_long(wide, PROFILE, dt.datetime.now())),)
    ]


def test_the_stored_result_checks_can_fail(hand_store):
    """The asset checks' functions pass on the stored result and fail when it is tampered with:
    a rate from the exact count, a hidden count shown, a ledger version missing."""
    conn, _, _ = hand_store
    store_indicators(conn, PROFILE, "2026Q3")
    wide = read_indicators(conn, PROFILE, "2026Q3")
    assert derived_violations(wide, PROFILE) == []
    assert ledger_violations(conn, PROFILE, "2026Q3", wide) == []
    exact_rate = wide.with_columns(
        pl.when(pl.col("level") == "regio")
        .then(100 * 163 / 650)
        .otherwise(pl.col("char_pct:lives_alone"))
        .alias("char_pct:lives_alone")
    )
    assert derived_violations(exact_rate, PROFILE) == ["2026Q3 REGIO char_pct:lives_alone"]
    shown_again = wide.with_columns(
        pl.when(pl.col("area_code") == BINNENSTAD).then(5).otherwise(pl.col("registered")).alias("registered")
    )
    assert any("newest ledger version" in p for p in ledger_violations(conn, PROFILE, "2026Q3", shown_again))
    conn.execute("CREATE TEMP TABLE ledger_backup AS SELECT * FROM disclosure_ledger")
    try:
        conn.execute("DELETE FROM disclosure_ledger")
        assert ledger_violations(conn, PROFILE, "2026Q3", wide) == [
            "2026Q3: figures stored without a ledger version"
        ]
    finally:
        conn.execute("INSERT INTO disclosure_ledger SELECT * FROM ledger_backup")
        conn.execute("DROP TABLE ledger_backup")


def test_a_rerun_adds_no_version_and_a_change_keeps_hidden_hidden(hand_store):
    conn, _, _ = hand_store
    store_indicators(conn, PROFILE, "2026Q3")
    before = conn.execute("SELECT max(version), count(*) FROM disclosure_ledger").fetchone()
    store_indicators(conn, PROFILE, "2026Q3")
    assert conn.execute("SELECT max(version), count(*) FROM disclosure_ledger").fetchone() == before
    # a late outcome changes the funnel: a new version, and what was hidden stays hidden
    conn.execute(
        "INSERT INTO outreach_outcomes VALUES ('P0001', '2026Q3', 'A038', 'bereikt', NULL, NULL, NULL, "
        "now(), 'late.csv', 'omu-basis', 1)"
    )
    try:
        store_indicators(conn, PROFILE, "2026Q3")
        version = before[0] + 1
        hidden = conn.execute(
            """
            SELECT count(*) FROM disclosure_ledger AS old JOIN disclosure_ledger AS new
              USING (quarter, profile_name, profile_version, level, area_code, indicator)
            WHERE old.version = ? AND new.version = ? AND old.published IS NULL AND new.published IS NOT NULL
        """,
            [before[0], version],
        ).fetchone()
        assert conn.execute("SELECT max(version) FROM disclosure_ledger").fetchone() == (version,)
        assert hidden == (0,)
        wide = read_indicators(conn, PROFILE, "2026Q3")
        assert ledger_violations(conn, PROFILE, "2026Q3", wide) == []
    finally:
        conn.execute("DELETE FROM outreach_outcomes WHERE source_file = 'late.csv'")


def test_page_names_the_funnel_outliers(hand_store):
    _, _, wide = hand_store
    region = wide.filter(pl.col("level") == "regio").row(0, named=True)
    text = " ".join(key_findings(wide, region, PROFILE))
    assert "P0001 (onder de grens" in text and "P0002 (boven de grens" in text
    page = render(wide, PROFILE, "2026Q3")
    assert "Praktijken buiten de 99,8%-grenzen van de trechterplot" in page
    assert (
        "cdn" not in page.lower().split("<script", 1)[0]
    )  # nothing before the inlined library loads remotely


def test_several_relations_on_one_total_are_protected():
    """suppress_table with (total, parts) pairs: each characteristic is its own part of registered."""
    df = pl.DataFrame(
        {"area": ["a", "b", "c"], "registered": [200, 300, 400], "c1": [197, 100, 100], "c2": [50, 60, 70]}
    )
    out = suppress_table(
        df,
        count_columns=["registered", "c1", "c2"],
        column_totals=[("registered", ["c1"]), ("registered", ["c2"])],
        rates={"p1": Rate("c1", "registered")},
    )
    row = out.row(0, named=True)
    # 200 - 197 = 3 people without c1: registered or c1 must be hidden in that row
    assert row["registered"] is None or row["c1"] is None
    assert row["p1"] is None


# --------------------------------------------------------------------------------------------
# Random small regions through the whole path (hypothesis)
# --------------------------------------------------------------------------------------------

WIJKEN = ["WK034401", "WK034403", "WK034405", "WK034409"]


@st.composite
def small_regions(draw):
    practices = draw(st.integers(1, 4))
    rows = []
    for p in range(practices):
        size = draw(st.integers(1, 45))
        for i in range(size):
            rows.append(
                (
                    f"P{p + 1:04d}",
                    "2026Q3",
                    f"X{p}_{i:03d}",
                    draw(st.integers(0, 99)),
                    draw(st.sampled_from(WIJKEN)),
                    draw(st.booleans()),
                    False,
                    draw(st.booleans()),
                    draw(st.booleans()),
                )
            )
    return pl.DataFrame(
        rows,
        schema=[
            "practice_id",
            "quarter",
            "patient_id",
            "age",
            "wijk_code",
            "over_threshold",
            "backfilled",
            "lives_alone",
            "hearing_impairment",
        ],
        orient="row",
    )


def exact_counts(people: pl.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    """Exact counts per (level, area) worked out from the people directly."""
    out = {}
    for level, key in (("regio", None), ("wijk", "wijk_code"), ("praktijk", "practice_id")):
        groups = people.group_by(key) if key else [((None,), people)]
        for (area,), frame in groups:
            out[(level, area or "REGIO")] = {
                "registered": frame.height,
                "over_threshold": int(frame["over_threshold"].sum()),
                "char_n:lives_alone": int(frame["lives_alone"].sum()),
                "char_n:hearing_impairment": int(frame["hearing_impairment"].sum()),
            }
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(small_regions())
def test_random_small_regions_never_show_small_counts(people):
    conn = new_store()
    try:
        insert_people(conn, people)
        wide = store_indicators(conn, PROFILE, "2026Q3")
        versions = _earlier_versions(conn, PROFILE, "2026Q3")["2026Q3"]
    finally:
        conn.close()
    counts = person_count_columns(PROFILE)
    values = wide.select(counts).to_numpy().ravel()
    shown = np.array([v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))])
    assert not np.any((shown >= 1) & (shown <= 7))
    assert np.all(shown % 5 == 0)
    exact = exact_counts(people)
    rows = {(r["level"], r["area_code"]): r for r in wide.to_dicts()}
    # shown counts are the exact ones rounded
    for key, figures in exact.items():
        for column, value in figures.items():
            if rows[key][column] is not None:
                assert rows[key][column] == round5(value), (key, column)
    # what a reader can conclude from all of it together is checked by the independent attacker
    # in tests/test_disclosure_attack.py; here the store's own audit of its ledger finds nothing
    assert versions and not audit(versions, suppression_spec(PROFILE)["column_totals"])
    # rates only where both counts are shown
    for r in rows.values():
        if r["pct_over"] is not None:
            assert r["over_threshold"] is not None and r["registered"] is not None
        if r["dsr_over"] is not None:
            assert r["over_threshold"] is not None


def test_the_spec_declares_every_part_of_relation():
    spec = suppression_spec(PROFILE)
    declared = {(total, part) for total, parts in spec["column_totals"] for part in parts}
    for rate in spec["rates"].values():
        assert (rate.denominator, rate.numerator) in declared


def test_a_name_from_the_reference_data_comes_out_escaped(hand_store):
    """Wijk names come from reference data: a name holding markup is shown as text, never run."""
    _, _, wide = hand_store
    evil = "<script>alert('wijk')</script>"
    wide = wide.with_columns(
        pl.when(pl.col("level") == "wijk")
        .then(pl.lit(evil) + pl.col("area_name"))
        .otherwise(pl.col("area_name"))
        .alias("area_name")
    )
    region = wide.filter(pl.col("level") == "regio").row(0, named=True)
    findings = " ".join(key_findings(wide.filter(pl.col("quarter") == "2026Q3"), region, PROFILE))
    assert "&lt;script&gt;alert(&#39;wijk&#39;)&lt;/script&gt;" in findings and evil not in findings
    page = render(wide, PROFILE, "2026Q3")
    assert evil not in page
    # shown as text in the table of figures; inside the plotly data it is JSON-escaped
    assert (
        page.count("<td>&lt;script&gt;alert(&#39;wijk&#39;)&lt;/script&gt;")
        == wide.filter((pl.col("quarter") == "2026Q3") & (pl.col("level") == "wijk")).height
    )
