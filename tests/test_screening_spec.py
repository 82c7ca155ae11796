"""Screening profile omu-basis v1, as docs/screening.md and its YAML state it, one hand-made patient per case.

Reference date 2026Q3 = 2026-09-30. Each case below is a patient of one small delivery; the
test reads that patient's row of the `screening` relation. A window of N days covers the
reference date and the N days before it (reference_date - N <= date <= reference_date).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
from deliveries import delivery_tables

from omu import store
from omu.home import OmuHome
from omu.ingest.load import ingest_delivery
from omu.screening.profile import load_profile
from omu.screening.screen import screen
from omu.synthetic import VENDOR_DIALECTS, write_delivery

D = dt.date
REF = D(2026, 9, 30)
FLAGS = (
    "older_than_55",
    "lives_alone",
    "visual_impairment",
    "hearing_impairment",
    "beta_blocker",
    "saba_only_asthma",
    "heavy_reliever_use",
)

# patient: (birth_year, birth_month, registered_from, registered_until, end_reason)
DEFAULT_PATIENT = (1990, 6, D(2000, 1, 1), None, None)

# case id -> (patient overrides or None, episodes [(icpc, start, end)], prescriptions [(atc, date, quantity)],
#             determinations [(code, date, value)], expected {flag: value} or "not screened")
CASES: dict[str, tuple] = {
    # older than 55 = age >= 56 in completed years on the reference date
    "age 56, birth month unknown": (
        (1970, None, D(2000, 1, 1), None, None),
        [],
        [],
        [],
        {"older_than_55": True},
    ),
    "age 55, birth month unknown": (
        (1971, None, D(2000, 1, 1), None, None),
        [],
        [],
        [],
        {"older_than_55": False},
    ),
    "turns 56 in the reference month": (
        (1970, 9, D(2000, 1, 1), None, None),
        [],
        [],
        [],
        {"older_than_55": True},
    ),
    "turns 56 the month after": ((1970, 10, D(2000, 1, 1), None, None), [], [], [], {"older_than_55": False}),
    # beta-blocker: ATC C07*, 180-day window; eye drops S01ED do not count
    "beta-blocker 180 days before": (None, [], [("C07AB02", D(2026, 4, 3), 90)], [], {"beta_blocker": True}),
    "beta-blocker 181 days before": (None, [], [("C07AB02", D(2026, 4, 2), 90)], [], {"beta_blocker": False}),
    "beta-blocker on the reference date": (None, [], [("C07AA05", REF, 30)], [], {"beta_blocker": True}),
    "beta-blocker after the reference date": (
        None,
        [],
        [("C07AB07", D(2026, 10, 2), 30)],
        [],
        {"beta_blocker": False},
    ),
    "timolol eye drops": (None, [], [("S01ED01", D(2026, 9, 1), 1)], [], {"beta_blocker": False}),
    # visual / hearing impairment: active episode, sub-codes included
    "F94 active": (None, [("F94", D(2015, 1, 1), None)], [], [], {"visual_impairment": True}),
    "F94 sub-code active": (None, [("F94.01", D(2015, 1, 1), None)], [], [], {"visual_impairment": True}),
    "F28 active": (None, [("F28", D(2015, 1, 1), None)], [], [], {"visual_impairment": True}),
    "episode ending on the reference date": (
        None,
        [("F94", D(2015, 1, 1), REF)],
        [],
        [],
        {"visual_impairment": True},
    ),
    "episode ended the day before": (
        None,
        [("F94", D(2015, 1, 1), D(2026, 9, 29))],
        [],
        [],
        {"visual_impairment": False},
    ),
    "episode starting after the reference date": (
        None,
        [("F94", D(2026, 10, 1), None)],
        [],
        [],
        {"visual_impairment": False},
    ),
    "glaucoma is not low vision": (
        None,
        [("F93", D(2015, 1, 1), None)],
        [],
        [],
        {"visual_impairment": False},
    ),
    "presbyacusis": (None, [("H84", D(2018, 1, 1), None)], [], [], {"hearing_impairment": True}),
    "deafness sub-code": (None, [("H86.02", D(2018, 1, 1), None)], [], [], {"hearing_impairment": True}),
    "H28 ear disability": (None, [("H28", D(2018, 1, 1), None)], [], [], {"hearing_impairment": True}),
    "otitis is not hearing impairment": (
        None,
        [("H71", D(2026, 9, 1), None)],
        [],
        [],
        {"hearing_impairment": False},
    ),
    # SABA-only asthma: active R96 and a SABA within 365 days and no ICS-containing product in that window
    "SABA 365 days before": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2025, 9, 30), 1)],
        [],
        {"saba_only_asthma": True},
    ),
    "SABA 366 days before": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2025, 9, 29), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "SABA with ICS inside the window": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1), ("R03BA02", D(2026, 1, 1), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "SABA with ICS just outside the window": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1), ("R03BA02", D(2025, 9, 29), 1)],
        [],
        {"saba_only_asthma": True},
    ),
    "SABA with an ICS combination inhaler": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC03", D(2026, 6, 1), 1), ("R03AK06", D(2026, 2, 1), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "SABA with an ICS triple inhaler": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1), ("R03AL09", D(2026, 2, 1), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "fenoterol+ipratropium is a SABA": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AL01", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": True},
    ),
    "LAMA+LABA without ICS is no ICS": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1), ("R03AL03", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": True},
    ),
    "SABA without asthma": (
        None,
        [("R95", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "asthma sub-code": (
        None,
        [("R96.01", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": True},
    ),
    "asthma ended before the reference date": (
        None,
        [("R96", D(2010, 1, 1), D(2026, 9, 29))],
        [("R03AC02", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": False},
    ),
    "heavy reliever use: 3 inhalers in a year": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 1, 1), 2), ("R03AC02", D(2026, 6, 1), 1)],
        [],
        {"saba_only_asthma": True, "heavy_reliever_use": True},
    ),
    "2 inhalers is not heavy use": (
        None,
        [("R96", D(2010, 1, 1), None)],
        [("R03AC02", D(2026, 6, 1), 2)],
        [],
        {"heavy_reliever_use": False},
    ),
    # living alone: the latest answer to code 9001 wins; values compared case-insensitively
    "lives alone": (None, [], [], [(9001, D(2024, 1, 1), "alleen")], {"lives_alone": True}),
    "lives alone, upper case": (None, [], [], [(9001, D(2024, 1, 1), "ALLEEN")], {"lives_alone": True}),
    "alone, then with partner": (
        None,
        [],
        [],
        [(9001, D(2020, 1, 1), "alleen"), (9001, D(2024, 1, 1), "samen")],
        {"lives_alone": False},
    ),
    "with partner, then alone": (
        None,
        [],
        [],
        [(9001, D(2020, 1, 1), "samen"), (9001, D(2024, 1, 1), "Alleen")],
        {"lives_alone": True},
    ),
    "alone only after the reference date": (
        None,
        [],
        [],
        [(9001, D(2020, 1, 1), "samen"), (9001, D(2026, 10, 1), "alleen")],
        {"lives_alone": False},
    ),
    "another code saying alleen": (None, [], [], [(9002, D(2024, 1, 1), "alleen")], {"lives_alone": False}),
    # the population: registered on the reference date
    "registered after the reference date": (
        (1950, 1, D(2026, 10, 1), None, None),
        [],
        [],
        [],
        "not screened",
    ),
    "deregistered on the reference date": (
        (1950, 1, D(2000, 1, 1), REF, "verhuisd"),
        [],
        [],
        [],
        "not screened",
    ),
    "deregistered the day after": (
        (1950, 1, D(2000, 1, 1), D(2026, 10, 1), "verhuisd"),
        [],
        [],
        [],
        {"older_than_55": True},
    ),
    "deceased before the reference date": (
        (1930, 1, D(1990, 1, 1), D(2026, 8, 1), "overleden"),
        [],
        [],
        [],
        "not screened",
    ),
    # score and threshold (>= 3)
    "three characteristics: over the threshold": (
        (1940, 1, D(2000, 1, 1), None, None),
        [("H84", D(2020, 1, 1), None)],
        [],
        [(9001, D(2024, 1, 1), "alleen")],
        {"score": 3, "over_threshold": True},
    ),
    "two characteristics: below": (
        (1940, 1, D(2000, 1, 1), None, None),
        [("H84", D(2020, 1, 1), None)],
        [],
        [],
        {"score": 2, "over_threshold": False},
    ),
}


def patient_id(case: str) -> str:
    return "spec" + "".join(ch for ch in case.title() if ch.isalnum())[:50]


def spec_tables() -> dict[str, pl.DataFrame]:
    patients, episodes, prescriptions, determinations = [], [], [], []
    for case, (patient, case_episodes, case_prescriptions, case_determinations, _) in CASES.items():
        pid = patient_id(case)
        birth_year, birth_month, registered_from, registered_until, end_reason = patient or DEFAULT_PATIENT
        patients.append(
            (
                pid,
                birth_year,
                birth_month,
                "V",
                "WK034405",
                None,
                registered_from,
                registered_until,
                end_reason,
            )
        )
        episodes += [(pid, icpc, start, end) for icpc, start, end in case_episodes]
        prescriptions += [(pid, atc, day, float(quantity), 30) for atc, day, quantity in case_prescriptions]
        determinations += [(pid, code, day, value) for code, day, value in case_determinations]
    return delivery_tables(
        patients=patients, episodes=episodes, prescriptions=prescriptions, determinations=determinations
    )


def load_and_screen(home: OmuHome, landing: Path, deliveries: list[tuple[str, str]]) -> None:
    profile = load_profile()
    for practice_id, quarter in deliveries:
        outcome = ingest_delivery(home, landing / practice_id / quarter)
        assert outcome.status in ("loaded", "unchanged"), outcome.reason
        with store.connect(home.database) as conn:
            screen(conn, profile, practice_id=practice_id, source_quarter=quarter)


def screening_rows(home: OmuHome) -> pl.DataFrame:
    with duckdb.connect(str(home.database), read_only=True) as conn:
        return conn.sql("SELECT * FROM screening").pl()


@pytest.fixture(scope="module")
def spec_home(tmp_path_factory) -> OmuHome:
    tmp = tmp_path_factory.mktemp("spec")
    write_delivery(
        tmp / "landing" / "P0900" / "2026Q3",
        practice_id="P0900",
        quarter="2026Q3",
        extracted_on=D(2026, 10, 4),
        tables=spec_tables(),
        dialect=VENDOR_DIALECTS[2],
    )
    home = OmuHome.resolve(tmp / "home").prepare()
    load_and_screen(home, tmp / "landing", [("P0900", "2026Q3")])
    return home


@pytest.fixture(scope="module")
def screened(spec_home) -> pl.DataFrame:
    return screening_rows(spec_home).filter(pl.col("quarter") == "2026Q3")


@pytest.mark.parametrize("case", CASES)
def test_characteristic(screened, case):
    expected = CASES[case][-1]
    rows = screened.filter(pl.col("patient_id") == patient_id(case))
    if expected == "not screened":
        assert rows.is_empty()
        return
    assert rows.height == 1
    row = rows.row(0, named=True)
    for column, value in expected.items():
        assert row[column] == value, f"{case}: {column} is {row[column]}, expected {value}"
    assert row["score"] == sum(row[flag] for flag in FLAGS if flag != "heavy_reliever_use")


# case -> {characteristic: {(record, code, date)}}: exactly the records that made each flag true,
# for EVERY boundary case above (a case whose flags all fail has none; not screened: none)
R96 = ("episode", "R96", D(2010, 1, 1))
EVIDENCE: dict[str, dict[str, set]] = {
    "age 56, birth month unknown": {"older_than_55": {("age", "56", None)}},
    "age 55, birth month unknown": {},
    "turns 56 in the reference month": {"older_than_55": {("age", "56", None)}},
    "turns 56 the month after": {},
    "beta-blocker 180 days before": {"beta_blocker": {("prescription", "C07AB02", D(2026, 4, 3))}},
    "beta-blocker 181 days before": {},
    "beta-blocker on the reference date": {"beta_blocker": {("prescription", "C07AA05", REF)}},
    "beta-blocker after the reference date": {},
    "timolol eye drops": {},
    "F94 active": {"visual_impairment": {("episode", "F94", D(2015, 1, 1))}},
    "F94 sub-code active": {"visual_impairment": {("episode", "F94.01", D(2015, 1, 1))}},
    "F28 active": {"visual_impairment": {("episode", "F28", D(2015, 1, 1))}},
    "episode ending on the reference date": {"visual_impairment": {("episode", "F94", D(2015, 1, 1))}},
    "episode ended the day before": {},
    "episode starting after the reference date": {},
    "glaucoma is not low vision": {},
    "presbyacusis": {"hearing_impairment": {("episode", "H84", D(2018, 1, 1))}},
    "deafness sub-code": {"hearing_impairment": {("episode", "H86.02", D(2018, 1, 1))}},
    "H28 ear disability": {"hearing_impairment": {("episode", "H28", D(2018, 1, 1))}},
    "otitis is not hearing impairment": {},
    "SABA 365 days before": {"saba_only_asthma": {R96, ("prescription", "R03AC02", D(2025, 9, 30))}},
    "SABA 366 days before": {},
    "SABA with ICS inside the window": {},
    # the ICS outside the window counted for nothing: only the asthma episode and the SABA
    "SABA with ICS just outside the window": {
        "saba_only_asthma": {R96, ("prescription", "R03AC02", D(2026, 6, 1))}
    },
    "SABA with an ICS combination inhaler": {},
    "SABA with an ICS triple inhaler": {},
    "fenoterol+ipratropium is a SABA": {
        "saba_only_asthma": {R96, ("prescription", "R03AL01", D(2026, 6, 1))}
    },
    "LAMA+LABA without ICS is no ICS": {
        "saba_only_asthma": {R96, ("prescription", "R03AC02", D(2026, 6, 1))}
    },
    "SABA without asthma": {},
    "asthma sub-code": {
        "saba_only_asthma": {("episode", "R96.01", D(2010, 1, 1)), ("prescription", "R03AC02", D(2026, 6, 1))}
    },
    "asthma ended before the reference date": {},
    "heavy reliever use: 3 inhalers in a year": {
        "saba_only_asthma": {
            R96,
            ("prescription", "R03AC02", D(2026, 1, 1)),
            ("prescription", "R03AC02", D(2026, 6, 1)),
        },
        "heavy_reliever_use": {
            ("prescription", "R03AC02", D(2026, 1, 1)),
            ("prescription", "R03AC02", D(2026, 6, 1)),
        },
    },
    # two inhalers in one prescription: too few for heavy use, and none of it is kept for that flag
    "2 inhalers is not heavy use": {"saba_only_asthma": {R96, ("prescription", "R03AC02", D(2026, 6, 1))}},
    "lives alone": {"lives_alone": {("determination", "9001", D(2024, 1, 1))}},
    "lives alone, upper case": {"lives_alone": {("determination", "9001", D(2024, 1, 1))}},
    "alone, then with partner": {},
    "with partner, then alone": {
        "lives_alone": {("determination", "9001", D(2024, 1, 1))}
    },  # the latest only
    "alone only after the reference date": {},
    "another code saying alleen": {},
    "registered after the reference date": {},
    "deregistered on the reference date": {},
    "deregistered the day after": {"older_than_55": {("age", "76", None)}},
    "deceased before the reference date": {},
    "three characteristics: over the threshold": {
        "older_than_55": {("age", "86", None)},
        "hearing_impairment": {("episode", "H84", D(2020, 1, 1))},
        "lives_alone": {("determination", "9001", D(2024, 1, 1))},
    },
    "two characteristics: below": {
        "older_than_55": {("age", "86", None)},
        "hearing_impairment": {("episode", "H84", D(2020, 1, 1))},
    },
}


def records_by_characteristic(evidence: pl.DataFrame) -> dict[str, set]:
    found: dict[str, set] = {}
    for row in evidence.iter_rows(named=True):
        found.setdefault(row["characteristic"], set()).add((row["record"], row["code"], row["date"]))
    return found


def test_every_boundary_case_states_its_evidence():
    assert set(EVIDENCE) == set(CASES)


@pytest.mark.parametrize("case", EVIDENCE)
def test_the_evidence_is_exactly_the_records_that_made_each_flag_true(spec_home, screened, case):
    """What the list's Onderbouwing is made of (screening_evidence) and what `omu explain` shows
    for each characteristic that holds: exactly the records that made the flag true, for every
    flag that is true, and nothing for a flag that is false."""
    from omu.screening.explain import NotScreened, explain
    from omu.screening.screen import screening_evidence

    profile = load_profile()
    with store.connect(spec_home.database) as conn:
        evidence = screening_evidence(
            conn, profile, practice_id="P0900", quarter="2026Q3", patient_ids=[patient_id(case)]
        )
        try:
            explained = explain(
                conn, profile, practice_id="P0900", quarter="2026Q3", patient_id=patient_id(case)
            )
        except NotScreened:
            explained = None
    assert records_by_characteristic(evidence) == EVIDENCE[case]
    rows = screened.filter(pl.col("patient_id") == patient_id(case))
    holding = {flag for flag in FLAGS if rows.height and rows[flag][0]}
    assert set(EVIDENCE[case]) == holding  # evidence for every flag that is true, for no other
    if explained is None:
        assert CASES[case][-1] == "not screened"
        return
    shown = records_by_characteristic(
        explained.evidence.filter(pl.col("characteristic").is_in(list(holding)))
    )
    assert shown == EVIDENCE[case]


def test_the_list_onderbouwing_names_exactly_the_records_that_made_the_flags_true(spec_home):
    from omu.outreach.lists import build_lists

    case = "three characteristics: over the threshold"  # the one spec patient over the threshold
    with store.connect(spec_home.database) as conn:
        built = build_lists(conn, load_profile(), practice_id="P0900", quarter="2026Q3", capacity=None)
    listed = pl.concat([built.outreach, built.baseline], how="diagonal_relaxed")
    assert listed["patient_id"].to_list() == [patient_id(case)]
    lines = listed["evidence"][0].split("\n")
    assert len(lines) == len(EVIDENCE[case])  # one line per characteristic that holds
    text = listed["evidence"][0]
    for records in EVIDENCE[case].values():
        for record, code, day in records:
            assert (f"leeftijd {code}" if record == "age" else code) in text
            assert day is None or f"{day:%d-%m-%Y}" in text


def test_each_screening_step_takes_its_inputs_and_leaves_nothing_another_relies_on(spec_home):
    """No state handed on inside the DuckDB session: what a step needs it is given, what it found
    it returns. On a fresh connection the checks need no screen() before them, and another
    profile's plan and evidence run before on the same connection change nothing."""
    from polars.testing import assert_frame_equal

    from omu.screening.profile import PROFILES_DIR
    from omu.screening.screen import plan_work, screening_checks, screening_evidence

    profile, asthma = load_profile(), load_profile(PROFILES_DIR / "astma-signaal-v1.yaml")
    with store.connect(spec_home.database) as conn:
        result = screen(conn, profile, practice_id="P0900", source_quarter="2026Q3")
        history = conn.sql(
            "SELECT quarter, count(*) AS screened, count(*) FILTER (WHERE over_threshold) AS over_threshold "
            "FROM score_history WHERE practice_id = 'P0900' GROUP BY quarter ORDER BY quarter"
        ).pl()
    assert_frame_equal(result.per_quarter, history, check_dtypes=False)
    assert result.quarters == history["quarter"].to_list() and len(result.quarters) == 5  # 4 backfilled
    with store.connect(spec_home.database) as fresh:
        checks = screening_checks(fresh, profile, practice_id="P0900", source_quarter="2026Q3")
        expected = screening_evidence(fresh, profile, practice_id="P0900", quarter="2026Q3")
    assert {name: frame.height for name, frame in checks.items()} == {
        "screened_once": 0,
        "score_sum": 0,
        "first_time": 0,
    }
    assert expected.height > 0
    with store.connect(spec_home.database) as used:
        assert plan_work(used, asthma, practice_id="P0900", source_quarter="2026Q3") == result.quarters
        screening_evidence(used, asthma, practice_id="P0900", quarter="2026Q3")
        assert_frame_equal(screening_evidence(used, profile, practice_id="P0900", quarter="2026Q3"), expected)


# --- first-time crossers over several quarters ---------------------------------------------------

X, Y, Z, W = "histX00000000001", "histY00000000002", "histZ00000000003", "histW00000000004"


def history_tables(extracted_on: dt.date, *, y_beta_blocker: bool = True) -> dict[str, pl.DataFrame]:
    """Four 80-year-olds living alone (2 points each); a third point decides who is over when:
    X: hearing since 2019 (over in every quarter);  Y: beta-blocker from August 2026;
    Z: beta-blocker in the autumn of 2025 only, again from August 2026;  W: beta-blocker from November 2026."""
    prescriptions = [(X, "C03CA01", D(2026, 1, 1))]
    prescriptions += [(Y, "C07AB02", D(2026, 8, 1)), (Y, "C07AB02", D(2026, 11, 1))] if y_beta_blocker else []
    prescriptions += [
        (Z, "C07AB02", D(2025, 10, 1)),
        (Z, "C07AB02", D(2026, 8, 15)),
        (W, "C07AB02", D(2026, 11, 5)),
    ]
    prescriptions = [p for p in prescriptions if p[2] <= extracted_on]
    ids = [X, Y, Z, W]
    return {
        "patients.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "birth_year": [1946] * 4,
                "birth_month": [1] * 4,
                "sex": ["V", "M", "V", "M"],
                "wijk_code": ["WK034401"] * 4,
                "registered_from": [D(2000, 1, 1)] * 4,
            }
        ),
        "episodes.csv": pl.DataFrame({"patient_id": [X], "icpc": ["H86"], "start_date": [D(2019, 1, 1)]}),
        "prescriptions.csv": pl.DataFrame(
            prescriptions,
            orient="row",
            schema={"patient_id": pl.String, "atc": pl.String, "prescribed_on": pl.Date},
        ),
        "determinations.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "code": [9001] * 4,
                "measured_on": [D(2018, 1, 1)] * 4,
                "value": ["alleen"] * 4,
            }
        ),
    }


EXTRACTED = {"2026Q3": D(2026, 10, 3), "2026Q4": D(2027, 1, 5)}


def write_history(landing: Path, quarter: str, **changes) -> None:
    write_delivery(
        landing / "P0901" / quarter,
        practice_id="P0901",
        quarter=quarter,
        extracted_on=EXTRACTED[quarter],
        tables=history_tables(EXTRACTED[quarter], **changes),
        dialect=VENDOR_DIALECTS[0],
    )


def history(home: OmuHome) -> dict[tuple[str, str], tuple[bool, bool, bool]]:
    rows = screening_rows(home)
    return {
        (r["patient_id"], r["quarter"]): (r["over_threshold"], r["first_time"], r["baseline"])
        for r in rows.iter_rows(named=True)
    }


@pytest.fixture
def landing(tmp_path) -> Path:
    write_history(tmp_path / "landing", "2026Q3")
    write_history(tmp_path / "landing", "2026Q4")
    return tmp_path / "landing"


def test_the_first_delivery_backfills_four_quarters_and_separates_the_baseline(tmp_path, landing):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    load_and_screen(home, landing, [("P0901", "2026Q3")])
    seen = history(home)
    assert sorted({q for _, q in seen}) == ["2025Q3", "2025Q4", "2026Q1", "2026Q2", "2026Q3"]
    # X was over the threshold in every backfilled quarter: baseline list, not first-time
    assert seen[(X, "2026Q3")] == (True, False, True)
    # Y crosses for the first time in 2026Q3
    assert seen[(Y, "2026Q3")] == (True, True, False)
    # Z was over in 2025Q4 (backfill), below since, over again: not first-time (the history shows the
    # earlier crossing), so Z belongs with those already over the threshold before: the baseline list
    assert seen[(Z, "2025Q4")][0] and not seen[(Z, "2026Q2")][0]
    assert seen[(Z, "2026Q3")] == (True, False, True)
    assert seen[(W, "2026Q3")] == (False, False, False)


def test_a_later_quarter_lists_only_new_crossers(tmp_path, landing):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    load_and_screen(home, landing, [("P0901", "2026Q3"), ("P0901", "2026Q4")])
    seen = history(home)
    assert seen[(W, "2026Q4")] == (True, True, False)
    assert seen[(Y, "2026Q4")] == (True, False, False)
    assert seen[(X, "2026Q4")] == (True, False, False)  # the baseline is the first quarter's list only


def test_rerunning_a_quarter_never_duplicates_history(tmp_path, landing):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    load_and_screen(home, landing, [("P0901", "2026Q3"), ("P0901", "2026Q4")])
    before = screening_rows(home).drop("screened_at").sort("quarter", "patient_id")
    load_and_screen(home, landing, [("P0901", "2026Q3"), ("P0901", "2026Q4"), ("P0901", "2026Q3")])
    after = screening_rows(home).drop("screened_at").sort("quarter", "patient_id")
    assert after.equals(before)


def test_quarters_out_of_order_give_the_same_history_as_in_order(tmp_path, landing):
    in_order = OmuHome.resolve(tmp_path / "in_order").prepare()
    load_and_screen(in_order, landing, [("P0901", "2026Q3"), ("P0901", "2026Q4")])
    late = OmuHome.resolve(tmp_path / "late").prepare()
    load_and_screen(late, landing, [("P0901", "2026Q4"), ("P0901", "2026Q3")])
    columns = [
        "practice_id",
        "quarter",
        "patient_id",
        "score",
        "over_threshold",
        "first_time",
        "baseline",
        "backfilled",
        "source_quarter",
    ]
    assert (
        screening_rows(late)
        .select(columns)
        .sort("quarter", "patient_id")
        .equals(screening_rows(in_order).select(columns).sort("quarter", "patient_id"))
    )


def test_a_late_redelivery_rewrites_history_consistently(tmp_path, landing):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    load_and_screen(home, landing, [("P0901", "2026Q3"), ("P0901", "2026Q4")])
    # 2026Q3 is delivered again: Y's August prescription was recorded in error and is gone
    write_history(landing, "2026Q3", y_beta_blocker=False)
    load_and_screen(home, landing, [("P0901", "2026Q3")])
    seen = history(home)
    assert seen[(Y, "2026Q3")] == (False, False, False)
    # Y now crosses for the first time in 2026Q4, from the 2026Q4 delivery that still has the prescription
    assert seen[(Y, "2026Q4")] == (True, True, False)
    assert len(seen) == len(screening_rows(home))  # one row per patient and quarter
