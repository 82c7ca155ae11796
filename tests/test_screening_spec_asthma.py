"""Screening profile astma-signaal v1 and its criterion types, one hand-made patient per boundary.

Reference date 2026Q3 = 2026-09-30; a window of 365 days runs from 2025-09-30 to 2026-09-30.
The default patient is 25, has no prescriptions and no contacts. Each case checks the flags it
names; the evidence test checks that the records kept for a flag are exactly those that made it
true (the same SQL computes both).
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest
from deliveries import delivery_tables

from omu import store
from omu.home import OmuHome
from omu.ingest.load import ingest_delivery
from omu.screening.profile import PROFILES_DIR, load_profile
from omu.screening.screen import screen, screening_evidence
from omu.synthetic import VENDOR_DIALECTS, write_delivery

D = dt.date
REF = D(2026, 9, 30)
PROFILE = PROFILES_DIR / "astma-signaal-v1.yaml"
SCORED = ("age_12_to_40", "reliever_use", "no_inhaled_corticosteroid", "few_practice_contacts")
TWO_SABA = [("R03AC02", D(2026, 3, 1), 1), ("R03AC02", D(2026, 8, 1), 1)]

# case -> ((birth_year, birth_month) or None, episodes [(icpc, start, end)], prescriptions
#          [(atc, date, quantity or None)], contacts [(date, kind)], expected {column: value})
CASES: dict[str, tuple] = {
    # age_range 12-40, completed years on the reference date, both bounds included
    "12 in the reference month": ((2014, 9), [], [], [], {"age_12_to_40": True}),
    "12 only the month after": ((2014, 10), [], [], [], {"age_12_to_40": False}),
    "40, birth month unknown": ((1986, None), [], [], [], {"age_12_to_40": True}),
    "41, birth month unknown": ((1985, None), [], [], [], {"age_12_to_40": False}),
    "40 until next month": ((1985, 10), [], [], [], {"age_12_to_40": True}),
    "41 in the reference month": ((1985, 9), [], [], [], {"age_12_to_40": False}),
    # reliever use: >= 2 SABA prescriptions, or SABA quantities adding up to >= 2, within 365 days
    "two SABA prescriptions of one inhaler": (None, [], TWO_SABA, [], {"reliever_use": True}),
    "one SABA prescription of one inhaler": (
        None,
        [],
        [("R03AC02", D(2026, 8, 1), 1)],
        [],
        {"reliever_use": False},
    ),
    "one SABA prescription of two inhalers": (
        None,
        [],
        [("R03AC02", D(2026, 8, 1), 2)],
        [],
        {"reliever_use": True},
    ),
    "one SABA prescription without a quantity": (
        None,
        [],
        [("R03AC02", D(2026, 8, 1), None)],
        [],
        {"reliever_use": False},
    ),
    "second SABA exactly 365 days before": (
        None,
        [],
        [("R03AC02", D(2025, 9, 30), 1), ("R03AC03", REF, 1)],
        [],
        {"reliever_use": True},
    ),
    "second SABA 366 days before": (
        None,
        [],
        [("R03AC02", D(2025, 9, 29), 1), ("R03AC03", REF, 1)],
        [],
        {"reliever_use": False},
    ),
    "SABA after the reference date": (
        None,
        [],
        [("R03AC02", D(2026, 8, 1), 1), ("R03AC02", D(2026, 10, 1), 1)],
        [],
        {"reliever_use": False},
    ),
    "half an inhaler and a half": (
        None,
        [],
        [("R03AC02", D(2026, 8, 1), 1.5), ("R03AC02", D(2024, 8, 1), 1)],
        [],
        {"reliever_use": False},
    ),
    # no ICS in the same 365 days (combination inhalers included)
    "ICS inside the window": (
        None,
        [],
        [*TWO_SABA, ("R03BA02", D(2025, 9, 30), 1)],
        [],
        {"no_inhaled_corticosteroid": False},
    ),
    "ICS one day outside the window": (
        None,
        [],
        [*TWO_SABA, ("R03BA02", D(2025, 9, 29), 1)],
        [],
        {"no_inhaled_corticosteroid": True},
    ),
    "ICS combination inhaler": (
        None,
        [],
        [*TWO_SABA, ("R03AK06", D(2026, 1, 1), 1)],
        [],
        {"no_inhaled_corticosteroid": False},
    ),
    # at most one contact with the practice in 365 days; huisartsenpost is not the practice
    "no contact at all": (None, [], [], [], {"few_practice_contacts": True}),
    "one consult": (None, [], [], [(D(2026, 5, 1), "consult")], {"few_practice_contacts": True}),
    "two contacts": (
        None,
        [],
        [],
        [(D(2026, 5, 1), "telefonisch"), (D(2026, 6, 1), "e-consult")],
        {"few_practice_contacts": False},
    ),
    "one visite and three huisartsenpost": (
        None,
        [],
        [],
        [(D(2026, 5, 1), "visite")] + [(D(2026, m, 1), "huisartsenpost") for m in (2, 3, 4)],
        {"few_practice_contacts": True},
    ),
    "second contact 366 days before": (
        None,
        [],
        [],
        [(D(2025, 9, 29), "consult"), (REF, "consult")],
        {"few_practice_contacts": True},
    ),
    "second contact exactly 365 days before": (
        None,
        [],
        [],
        [(D(2025, 9, 30), "consult"), (REF, "consult")],
        {"few_practice_contacts": False},
    ),
    # the whole rule: all four must hold; R96 is context only
    "young reliever-only user without R96": (
        (2004, 3),
        [],
        TWO_SABA,
        [(D(2026, 2, 1), "consult")],
        {"over_threshold": True, "score": 4, "asthma_episode": False},
    ),
    "young reliever-only user with R96": (
        (2004, 3),
        [("R96", D(2020, 1, 1), None)],
        TWO_SABA,
        [],
        {"over_threshold": True, "asthma_episode": True},
    ),
    "the same, with two practice contacts": (
        (2004, 3),
        [],
        TWO_SABA,
        [(D(2026, 2, 1), "consult"), (D(2026, 3, 1), "consult")],
        {"over_threshold": False, "score": 3},
    ),
    "the same, aged 41": ((1985, 1), [], TWO_SABA, [], {"over_threshold": False, "score": 3}),
    # first inhaler: the first R03A/R03B prescription ever seen falls in the quarter (note)
    "first inhaler on the quarter's first day": (
        None,
        [],
        [("R03AC02", D(2026, 7, 1), 1)],
        [],
        {"first_inhaler": True},
    ),
    "first inhaler the day before the quarter": (
        None,
        [],
        [("R03AC02", D(2026, 6, 30), 1), ("R03AC02", D(2026, 8, 1), 1)],
        [],
        {"first_inhaler": False},
    ),
    "first inhaler on the reference date": (None, [], [("R03BA02", REF, 1)], [], {"first_inhaler": True}),
    "an inhaler years ago": (
        None,
        [],
        [("R03AC02", D(2019, 1, 1), 1), ("R03AC02", D(2026, 8, 1), 1)],
        [],
        {"first_inhaler": False},
    ),
    "montelukast tablets are no inhaler": (
        None,
        [],
        [("R03DC03", D(2025, 1, 1), 1), ("R03AC02", D(2026, 8, 1), 1)],
        [],
        {"first_inhaler": True},
    ),
    "first inhaler only after the reference date": (
        None,
        [],
        [("R03AC02", D(2026, 10, 1), 1)],
        [],
        {"first_inhaler": False},
    ),
}

# case -> the evidence records (characteristic, record, code, date) that made its flags true;
# (characteristic, ..., None, None): it holds without a record (no contact at all, no ICS)
EVIDENCE = {
    "young reliever-only user without R96": {
        ("age_12_to_40", "age", "22", None),
        ("reliever_use", "prescription", "R03AC02", D(2026, 3, 1)),
        ("reliever_use", "prescription", "R03AC02", D(2026, 8, 1)),
        ("few_practice_contacts", "contact", "consult", D(2026, 2, 1)),
        ("no_inhaled_corticosteroid", "absent", None, None),
    },
    "one SABA prescription of two inhalers": {  # the quantity rule alone: the one prescription behind it
        ("age_12_to_40", "age", "25", None),
        ("reliever_use", "prescription", "R03AC02", D(2026, 8, 1)),
        ("few_practice_contacts", "contact", None, None),
        ("no_inhaled_corticosteroid", "absent", None, None),
        ("first_inhaler", "prescription", "R03AC02", D(2026, 8, 1)),
    },
    "second SABA 366 days before": {  # one SABA in the window: no reliever use, no first inhaler either
        ("age_12_to_40", "age", "25", None),
        ("few_practice_contacts", "contact", None, None),
        ("no_inhaled_corticosteroid", "absent", None, None),
    },
    "one visite and three huisartsenpost": {
        ("age_12_to_40", "age", "25", None),
        ("few_practice_contacts", "contact", "visite", D(2026, 5, 1)),
        ("no_inhaled_corticosteroid", "absent", None, None),
    },
    "young reliever-only user with R96": {
        ("age_12_to_40", "age", "22", None),
        ("reliever_use", "prescription", "R03AC02", D(2026, 3, 1)),
        ("reliever_use", "prescription", "R03AC02", D(2026, 8, 1)),
        ("few_practice_contacts", "contact", None, None),
        ("no_inhaled_corticosteroid", "absent", None, None),
        ("asthma_episode", "episode", "R96", D(2020, 1, 1)),
    },
}


def patient_id(case: str) -> str:
    return "asth" + "".join(ch for ch in case.title() if ch.isalnum())[:50]


def tables() -> dict[str, pl.DataFrame]:
    patients, episodes, prescriptions, contacts = [], [], [], []
    for case, (born, case_episodes, case_prescriptions, case_contacts, _) in CASES.items():
        pid = patient_id(case)
        birth_year, birth_month = born or (2001, 1)
        patients.append((pid, birth_year, birth_month, "M", "WK034405", None, D(2000, 1, 1), None, None))
        episodes += [(pid, icpc, start, end) for icpc, start, end in case_episodes]
        prescriptions += [
            (pid, atc, day, None if q is None else float(q), 30) for atc, day, q in case_prescriptions
        ]
        contacts += [(pid, day, kind) for day, kind in case_contacts]
    return delivery_tables(
        patients=patients,
        episodes=episodes,
        prescriptions=prescriptions,
        determinations=[],
        contacts=contacts,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> OmuHome:
    tmp = tmp_path_factory.mktemp("asthma")
    write_delivery(
        tmp / "landing" / "P0902" / "2026Q3",
        practice_id="P0902",
        quarter="2026Q3",
        extracted_on=D(2026, 10, 4),
        tables=tables(),
        dialect=VENDOR_DIALECTS[1],
    )
    home = OmuHome.resolve(tmp / "home").prepare()
    outcome = ingest_delivery(home, tmp / "landing" / "P0902" / "2026Q3")
    assert outcome.status == "loaded", outcome.reason
    with store.connect(home.database) as conn:
        screen(conn, load_profile(PROFILE), practice_id="P0902", source_quarter="2026Q3")
    return home


@pytest.fixture(scope="module")
def screened(home) -> pl.DataFrame:
    with duckdb.connect(str(home.database), read_only=True) as conn:
        return conn.sql(
            "SELECT * FROM screening WHERE quarter = '2026Q3' AND profile_name = 'astma-signaal'"
        ).pl()


@pytest.mark.parametrize("case", CASES)
def test_characteristic(screened, case):
    rows = screened.filter(pl.col("patient_id") == patient_id(case))
    assert rows.height == 1
    row = rows.row(0, named=True)
    for column, value in CASES[case][-1].items():
        assert row[column] == value, f"{case}: {column} is {row[column]}, expected {value}"
    assert row["score"] == sum(row[flag] for flag in SCORED)
    assert row["over_threshold"] == all(row[flag] for flag in SCORED)  # rule: all


@pytest.mark.parametrize("case", EVIDENCE)
def test_the_evidence_is_exactly_the_records_that_made_the_flags_true(home, screened, case):
    profile = load_profile(PROFILE)
    with store.connect(home.database) as conn:
        evidence = screening_evidence(
            conn, profile, practice_id="P0902", quarter="2026Q3", patient_ids=[patient_id(case)]
        )
    found = {(r["characteristic"], r["record"], r["code"], r["date"]) for r in evidence.iter_rows(named=True)}
    expected = {e for e in EVIDENCE[case] if e[2] is not None}  # (.., None, None): holds with no record
    assert found == expected
    row = screened.filter(pl.col("patient_id") == patient_id(case)).row(0, named=True)
    holding = {c.id for c in profile.characteristics if row[c.id]}
    assert {e[0] for e in EVIDENCE[case]} == holding  # every flag that holds is accounted for


def test_explain_shows_what_each_criterion_counted_also_when_the_characteristic_fails(home):
    from omu.screening.explain import explain

    with store.connect(home.database) as conn:
        result = explain(
            conn,
            load_profile(PROFILE),
            practice_id="P0902",
            quarter="2026Q3",
            patient_id=patient_id("the same, with two practice contacts"),
        )
    assert not result.screening["few_practice_contacts"] and not result.screening["over_threshold"]
    counted = {
        (r["characteristic"], r["criterion_no"], r["code"]) for r in result.evidence.iter_rows(named=True)
    }
    # both ways to reliever use hold (criteria 101 and 102 of either_of 1); the two consults are
    # counted but make "at most one" fail, so they are no hit and no evidence
    assert ("reliever_use", 101, "R03AC02") in counted and ("reliever_use", 102, "R03AC02") in counted
    assert not any(c == "few_practice_contacts" for c, _, _ in counted)
