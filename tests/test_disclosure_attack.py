"""Proof by attack: the published regional files give no count away.

Regions are generated as counts per practice and wijk (so every hierarchy adds up as in real
data), run through the real publishing path (omu.dashboards.indicators.publish: protection, then
rates, intervals, funnel and standardised rates from the published counts), written with the
real csv writer, and attacked by tests/attacker.py, which reads only those files.  Late outreach
outcomes make a second version of a quarter, published with the ledger of the first; the
attacker holds both files.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from attacker import attack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from public_knowledge import CHARS, COUNTS, DEPRIVED, HEADER, KNOWLEDGE, OUTREACH, PROFILE, QUARTER, WIJKEN

from omu.dashboards.disclosure import Version, protect
from omu.dashboards.indicator_files import write_csv
from omu.dashboards.indicators import (
    KEYS,
    publish,
    suppression_spec,
    to_long,
    to_wide,
    versions_from_ledger,
)
from omu.outreach.lists import REFERRAL_TARGETS

# --------------------------------------------------------------------------------------------
# Regions: counts per practice and wijk, people's outreach outcomes arriving early or late
# --------------------------------------------------------------------------------------------


def cell_counts(rng: random.Random, registered: int, wijk: str) -> tuple[dict[str, int], list[tuple]]:
    """Counts of one practice in one wijk, and its listed people as (outcome, target, late)."""

    def binom(n: int, p: float) -> int:
        return sum(rng.random() < p for _ in range(n))

    c = dict.fromkeys(COUNTS, 0)
    c["registered"] = registered
    c["over_threshold"] = binom(registered, rng.choice([0.0, 0.05, 0.2, 0.5, 1.0]))
    c["first_time"] = binom(c["over_threshold"], rng.choice([0.0, 0.3, 0.7, 1.0]))
    c["baseline"] = binom(c["over_threshold"] - c["first_time"], rng.choice([0.0, 0.5, 1.0]))
    for ch in CHARS:
        c[f"char_n:{ch}"] = binom(registered, rng.choice([0.0, 0.02, 0.1, 0.4, 0.9]))
    c["in_deprived_wijk"] = registered if wijk in DEPRIVED else 0
    listed = binom(c["first_time"], rng.choice([0.5, 1.0]))
    people = []
    for _ in range(listed):
        outcome = rng.choice(["bereikt", "verwezen", "afgezien", "niet_bereikt", "al_in_zorg", None])
        target = rng.choice([*REFERRAL_TARGETS, None]) if outcome == "verwezen" else None
        people.append((outcome, target, rng.random() < 0.4))
    return c, people


def outreach_counts(people: list[tuple], include_late: bool) -> dict[str, int]:
    c = dict.fromkeys(OUTREACH, 0)
    c["listed"] = len(people)
    for outcome, target, late in people:
        if outcome is None or (late and not include_late):
            continue
        c["reached"] += outcome in ("bereikt", "verwezen", "afgezien")
        c["not_reached"] += outcome == "niet_bereikt"
        c["already_in_care"] += outcome == "al_in_zorg"
        if outcome == "verwezen":
            c["referred"] += 1
            if target:
                c[f"referred_to:{target}"] += 1
    return c


def random_region(seed: int) -> dict[tuple[str, str], tuple[dict[str, int], list[tuple]]]:
    """{(practice, wijk): (counts, listed people)} for 1-3 practices over a few wijken."""
    rng = random.Random(seed)
    wijken = rng.sample([*WIJKEN, "OVERIG"], rng.randint(1, 4))
    n_practices = rng.randint(1, 3)
    separate = rng.random() < 0.3  # practices in separate villages: each serves its own wijken
    cells = {}
    for p in range(n_practices):
        served = (
            [w for i, w in enumerate(wijken) if i % n_practices == p]
            if separate
            else rng.sample(wijken, rng.randint(1, len(wijken)))
        )
        for w in served:
            size = rng.choice([1, 2, 5, 8, 12, 20, 45, 120, 400])
            cells[(f"P{p + 1:04d}", w)] = cell_counts(rng, size, w)
    return cells


def raw_frame(cells: dict, include_late: bool) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """raw wide counts (as the SQL makes them), band counts, served pairs."""
    per = {k: {**c, **outreach_counts(people, include_late)} for k, (c, people) in cells.items()}
    practices = sorted({p for p, _ in per})
    wijken = sorted({*WIJKEN, *(w for _, w in per)})
    rows = []
    for level, code, members in (
        [("regio", "REGIO", list(per))]
        + [("wijk", w, [k for k in per if k[1] == w]) for w in wijken]
        + [("praktijk", p, [k for k in per if k[0] == p]) for p in practices]
    ):
        counts = {c: sum(per[k][c] for k in members) for c in COUNTS}
        rows.append(
            {
                "quarter": QUARTER,
                "level": level,
                "area_code": code,
                "area_name": code,
                "practices": len({k[0] for k in members}),
                **counts,
            }
        )
    raw = pl.DataFrame(rows).with_columns(pl.col(c).cast(pl.Int64) for c in COUNTS)
    raw = raw.with_columns(pl.col("practices").cast(pl.Int64)).select(*KEYS, "practices", *COUNTS)
    bands = raw.select(
        "quarter",
        "level",
        "area_code",
        pl.lit(14).alias("band"),
        pl.col("registered").alias("population"),
        pl.col("over_threshold").alias("events"),
    )
    served = pl.DataFrame(
        [(QUARTER, p, w) for p, w in sorted(per)],
        schema=["quarter", "practice_id", "wijk_area"],
        orient="row",
    )
    return raw, bands, served


def publish_versions(cells: dict, folder: Path) -> list[Path]:
    """Publish the region once with the early outcomes, then again with the late ones too
    (re-publication, with the ledger of the first version); the files an attacker keeps."""
    paths, ledger, served_rows = [], None, None
    for i, include_late in enumerate((False, True)):
        raw, bands, served = raw_frame(cells, include_late)
        earlier: dict[str, list[Version]] = (
            versions_from_ledger(ledger, served_rows, PROFILE)
            if ledger is not None and served_rows is not None
            else {}
        )
        wide, new_ledger, new_served = publish(raw, bands, served, earlier, PROFILE)
        ledger = new_ledger if ledger is None else pl.concat([ledger, new_ledger])
        served_rows = new_served if served_rows is None else pl.concat([served_rows, new_served])
        stored = to_wide(to_long(wide, PROFILE, dt.datetime(2026, 10, 1)), PROFILE)
        paths.append(write_csv(folder / f"v{i}" / "indicators.csv", stored, PROFILE))
    return paths


def assert_no_disclosure(paths: list[Path]) -> None:
    report = attack(paths, KNOWLEDGE)
    assert not report.inconsistencies, report.inconsistencies[:5]
    assert not report.disclosures, [str(d) for d in report.disclosures[:5]]
    assert report.counts_attacked > 0


# --------------------------------------------------------------------------------------------
# Adversarial regions, by hand
# --------------------------------------------------------------------------------------------


def hand_cell(registered: int, wijk: str, **counts: int) -> tuple[dict[str, int], list[tuple]]:
    c = dict.fromkeys(COUNTS, 0)
    c["registered"] = registered
    c["in_deprived_wijk"] = registered if wijk in DEPRIVED else 0
    listed, reached, referred = counts.pop("listed", 0), counts.pop("reached", 0), counts.pop("referred", 0)
    c.update(counts)
    people = (
        [("verwezen", "buurtteam", False)] * referred
        + [("bereikt", None, False)] * (reached - referred)
        + [(None, None, False)] * (listed - reached)
    )
    return c, people


W1, W2, W3, W4 = "WK034401", "WK034404", "WK034405", "WK034409"  # none deprived
ADVERSARIAL = {
    # (registered, listed, reached, referred) that made the old per-group suppression raise
    "three_practices_runtime_error": {
        ("P0001", W1): hand_cell(11, W1, listed=9, reached=4, referred=2, over_threshold=9, first_time=9),
        ("P0002", W1): hand_cell(44, W1, listed=1, reached=1, referred=1, over_threshold=1, first_time=1),
        ("P0003", W1): hand_cell(45, W1, listed=9, reached=3, referred=3, over_threshold=9, first_time=9),
    },
    # a pilot of two practices in separate villages: the practices column shows who serves where
    "two_villages": {
        ("P0001", W1): hand_cell(300, W1, over_threshold=40, first_time=3, baseline=37),
        ("P0002", W2): hand_cell(250, W2, over_threshold=30, first_time=12, baseline=18),
    },
    # four wijken of 12 each: the region's 48 (shown 50) would pin every wijk at 12 by rounding
    "rounding_undone_by_the_total": {
        ("P0001", w): hand_cell(12, w, over_threshold=12, first_time=12) for w in (W1, W2, W3, W4)
    },
    "one_person": {("P0001", W1): hand_cell(1, W1, over_threshold=1, first_time=1, listed=1, reached=1)},
    "tiny_wijk_next_to_a_big_one": {
        ("P0001", W1): hand_cell(500, W1, over_threshold=100, first_time=50),
        ("P0001", W2): hand_cell(3, W2, over_threshold=2, first_time=2),
    },
    "zeros_and_a_deprived_wijk": {
        ("P0001", "WK034403"): hand_cell(40, "WK034403"),
        ("P0002", "WK034403"): hand_cell(9, "WK034403"),
        ("P0002", W1): hand_cell(30, W1),
    },
}


def test_the_attacker_has_teeth(tmp_path, monkeypatch):
    """Against rounding alone (no secondary suppression) the attacker pins the four wijken of 12
    through the region's 48; and a rate computed from an exact count is caught."""
    import omu.dashboards.indicators as indicators

    monkeypatch.setattr(
        indicators,
        "protect",
        lambda versions, relations: (versions[-1].exact >= 1) & (versions[-1].exact <= 7),
    )
    report = attack(publish_versions(ADVERSARIAL["rounding_undone_by_the_total"], tmp_path / "a"), KNOWLEDGE)
    assert {(d.area, d.low, d.high) for d in report.disclosures if d.header == HEADER["registered"]} >= {
        ("REGIO", 48, 48),
        (W1, 12, 12),
    }
    monkeypatch.undo()
    paths = publish_versions(ADVERSARIAL["three_practices_runtime_error"], tmp_path / "b")
    frame = pl.read_csv(paths[0], separator=";", decimal_comma=True)
    frame = frame.with_columns(
        pl.when(pl.col("Code") == "REGIO")
        .then(19.0)  # 19 of 100 exactly, shown 20
        .otherwise(pl.col(HEADER["pct_over"]))
        .alias(HEADER["pct_over"])
    )
    frame.write_csv(paths[0], separator=";", decimal_comma=True)
    assert any(HEADER["pct_over"] in p for p in attack(paths[:1], KNOWLEDGE).inconsistencies)


def test_the_three_practice_case_no_longer_raises_and_holds(tmp_path):
    cells = ADVERSARIAL["three_practices_runtime_error"]
    paths = publish_versions(cells, tmp_path)
    assert_no_disclosure(paths)
    shown = pl.read_csv(paths[-1], separator=";")
    assert shown.height > 0  # a dashboard is written


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_regions(name, tmp_path):
    assert_no_disclosure(publish_versions(ADVERSARIAL[name], tmp_path))


def test_random_regions(tmp_path):
    """Seeded random regions (1-3 practices, separate villages, tiny wijken, zeros, late outcomes)."""
    for seed in range(100):
        folder = tmp_path / str(seed)
        try:
            assert_no_disclosure(publish_versions(random_region(seed), folder))
        except AssertionError as error:
            raise AssertionError(f"region seed {seed}: {error}") from error


def test_republication_keeps_hidden_hidden_and_reruns_add_nothing(tmp_path):
    cells = ADVERSARIAL["three_practices_runtime_error"]
    raw, bands, served = raw_frame(cells, include_late=False)
    first, ledger, served_rows = publish(raw, bands, served, {}, PROFILE)
    earlier = versions_from_ledger(ledger, served_rows, PROFILE)
    again, more, more_served = publish(raw, bands, served, earlier, PROFILE)
    assert more.is_empty() and more_served.is_empty()  # nothing changed: no new version
    assert again.equals(first)
    late_raw, *_ = raw_frame(
        {k: (c, [(o or "bereikt", t, late) for o, t, late in people]) for k, (c, people) in cells.items()},
        include_late=True,
    )
    later, newer, _ = publish(late_raw, bands, served, earlier, PROFILE)
    assert set(newer.get_column("version").to_list()) == {2}
    hidden_before = {
        (r["level"], r["area_code"], r["indicator"])
        for r in ledger.iter_rows(named=True)
        if r["published"] is None
    }
    hidden_after = {
        (r["level"], r["area_code"], r["indicator"])
        for r in newer.iter_rows(named=True)
        if r["published"] is None
    }
    assert hidden_before <= hidden_after


# --------------------------------------------------------------------------------------------
# Suppression never raises (hypothesis), deterministic
# --------------------------------------------------------------------------------------------

RELATIONS = [("registered", ["listed"]), ("listed", ["reached"]), ("reached", ["referred"])]


@st.composite
def practice_tables(draw):
    n = draw(st.integers(1, 4))
    wijken = draw(st.integers(1, 3))
    served, rows = [], []
    for p in range(n):
        for w in sorted(draw(st.sets(st.integers(0, wijken - 1), min_size=1))):
            registered = draw(st.integers(0, 60))
            listed = draw(st.integers(0, registered))
            reached = draw(st.integers(0, listed))
            referred = draw(st.integers(0, reached))
            served.append((f"P{p}", f"W{w}"))
            rows.append((registered, listed, reached, referred))
    return served, np.array(rows, dtype=np.int64)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(practice_tables())
def test_protect_never_raises_and_is_deterministic(table):
    served, cross = table
    areas = (
        [("regio", "REGIO")]
        + [("wijk", w) for w in sorted({w for _, w in served})]
        + [("praktijk", p) for p in sorted({p for p, _ in served})]
    )
    exact = np.array(
        [
            cross[
                [
                    i
                    for i, s in enumerate(served)
                    if lv == "regio" or (lv == "wijk" and s[1] == code) or (lv == "praktijk" and s[0] == code)
                ]
            ].sum(axis=0)
            for lv, code in areas
        ]
    )
    columns = ["registered", "listed", "reached", "referred"]
    first = protect([Version(areas, columns, exact, np.zeros(exact.shape, bool), served)], RELATIONS)
    again = protect(
        [Version(areas, columns, exact.copy(), np.zeros(exact.shape, bool), list(served))], RELATIONS
    )
    assert np.array_equal(first, again)
    small = (exact >= 1) & (exact <= 7)
    assert np.all(first[small])  # primary: 1-7 always hidden


def test_spec_relations_are_the_documented_ones():
    """The attacker's knowledge (restated above) and the protection use the same relations."""
    spec = {(t, tuple(p)) for t, p in suppression_spec(PROFILE)["column_totals"]}
    header_of = {v: k for k, v in HEADER.items()}
    attacker = {(header_of[t], tuple(header_of[x] for x in p)) for t, p in KNOWLEDGE.relations}
    assert attacker <= spec


def test_the_same_data_in_another_row_order_gives_the_same_figures():
    raw, bands, served = raw_frame(random_region(7), include_late=True)
    first = publish(raw, bands, served, {}, PROFILE)
    again = publish(
        raw.sample(fraction=1.0, shuffle=True, seed=3),
        bands.sample(fraction=1.0, shuffle=True, seed=4),
        served.sample(fraction=1.0, shuffle=True, seed=5),
        {},
        PROFILE,
    )
    assert again[0].equals(first[0])
    assert again[1].drop("recorded_at").sort(pl.all()).equals(first[1].drop("recorded_at").sort(pl.all()))
