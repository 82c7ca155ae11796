"""On generated deliveries, every flag, age and score in `screening` equals the generator's truth,
for every patient and reference date screened (the delivered quarters and the backfill)."""

from __future__ import annotations

import duckdb
import pytest

from omu.home import OmuHome
from omu.quarters import quarter_range
from omu.synthetic import generate
from tests.test_screening_spec import load_and_screen

COMPARED = ("age", "sex", "wijk_code", "older_than_55", "lives_alone", "visual_impairment", "hearing_impairment",
            "beta_blocker", "saba_only_asthma", "heavy_reliever_use", "score", "over_threshold")


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("truth")
    summary = generate(tmp / "landing", practices=4, quarters=quarter_range("2026Q2:2026Q3"), seed=11,
                       patients=(150, 260), truth_dir=tmp / "truth")
    home = OmuHome.resolve(tmp / "home").prepare()
    deliveries = sorted((p.parent.parent.name, p.parent.name) for p in (tmp / "landing").glob("*/*/manifest.json"))
    load_and_screen(home, tmp / "landing", sorted(deliveries, key=lambda d: (d[1], d[0])))
    return home, tmp / "truth", summary


def test_every_flag_equals_the_truth_for_every_patient_and_reference_date(region):
    home, truth, _ = region
    with duckdb.connect(str(home.database), read_only=True) as conn:
        conn.execute(f"CREATE TEMP VIEW truth AS SELECT * FROM read_parquet('{truth}/*.parquet')")
        screened = conn.execute("SELECT count(*), count(DISTINCT quarter) FROM screening").fetchall()[0]
        matched = conn.execute(
            "SELECT count(*) FROM screening s JOIN truth t USING (practice_id, quarter, patient_id)"
        ).fetchall()[0][0]
        differences = conn.execute(
            "SELECT s.practice_id, s.quarter, s.patient_id, "
            + ", ".join(f"s.{c} AS screened_{c}, t.{c} AS truth_{c}" for c in COMPARED)
            + " FROM screening s JOIN truth t USING (practice_id, quarter, patient_id) WHERE "
            + " OR ".join(f"s.{c} IS DISTINCT FROM t.{c}" for c in COMPARED)
            + " LIMIT 5"
        ).fetchall()
        truth_rows = conn.execute(
            "SELECT count(*) FROM truth WHERE quarter IN (SELECT DISTINCT quarter FROM screening)").fetchall()[0][0]
    rows, quarters = screened
    assert quarters == 6  # 2026Q2 and 2026Q3 delivered, 2025Q2..2026Q1 backfilled from the first delivery
    assert rows == matched == truth_rows  # the same population, patient for patient
    assert differences == []


def test_first_time_crossers_and_baseline_are_consistent_with_the_history(region):
    home, _, _ = region
    with duckdb.connect(str(home.database), read_only=True) as conn:
        problems = conn.execute(
            """SELECT count(*) FROM screening s WHERE s.first_time AND EXISTS (
                   SELECT 1 FROM screening e WHERE e.practice_id = s.practice_id AND e.patient_id = s.patient_id
                   AND e.quarter < s.quarter AND e.over_threshold)"""
        ).fetchall()[0][0]
        crossers, baseline = conn.execute(
            "SELECT count(*) FILTER (WHERE first_time AND quarter = '2026Q3'), "
            "count(*) FILTER (WHERE baseline AND quarter = '2026Q2') FROM screening").fetchall()[0]
    assert problems == 0
    assert crossers > 0 and baseline > crossers  # a backlog in the first quarter, a few newcomers after
