"""Programme evaluation: the feedback report each practice gets, made by real Dagster runs on
generated deliveries, opened in Chromium and checked against the store."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from omu import store
from omu.home import OmuHome
from omu.outreach.outcomes import OutcomeFileError, import_outcomes
from omu.pipelines.definitions import build_definitions
from omu.pipelines.partitions import partition_key
from omu.pipelines.runner import run_chain
from omu.quarters import Quarter, quarter_range
from omu.synthetic import generate
from tests.test_outreach import CROSSERS, PRACTICE, hand_back, make_list, write_hand_made_practice
from tests.test_outreach import QUARTERS as OUTREACH_QUARTERS

QUARTERS = ["2025Q3", "2025Q4"]  # their working quarters lie in the past
PRACTICES = ["P0001", "P0002"]
TREND_COLUMNS = (
    "screened",
    "over_threshold",
    "first_time",
    "listed",
    "backlog",
    "reached",
    "referred",
    "no_outcome",
)
CYCLE = [
    ("verwezen", "buurtteam"),
    ("niet_bereikt", None),
    ("bereikt", None),
    ("afgezien", None),
    ("al_in_zorg", None),
    ("verwezen", "valpreventie"),
]


def hand_back_everything(home: OmuHome, folder: Path, practice_id: str, quarter: str) -> pl.DataFrame:
    """The POH fills in every listed patient (outcomes in turn), dated in the working quarter; real import."""
    with store.connect(home.database) as conn:
        listed = conn.execute(
            "SELECT patient_id FROM outreach_lists WHERE practice_id = ? AND quarter = ? AND list_kind = 'outreach' "
            "AND listed ORDER BY rank",
            [practice_id, quarter],
        ).fetchall()
    work = Quarter.parse(quarter).next().start
    rows = pl.DataFrame(
        {
            "practice_id": practice_id,
            "quarter": quarter,
            "patient_id": [p for (p,) in listed],
            "outcome": [CYCLE[i % len(CYCLE)][0] for i in range(len(listed))],
            "referral_target": [CYCLE[i % len(CYCLE)][1] for i in range(len(listed))],
            # every other contact falls after the working quarter (late)
            "date": [
                (work + dt.timedelta(days=10 if i % 2 == 0 else 120)).isoformat() for i in range(len(listed))
            ],
        },
        schema_overrides={"referral_target": pl.String},
    )
    path = folder / f"{practice_id}-{quarter}.csv"
    rows.write_csv(path, separator=";")
    with store.connect(home.database) as conn:
        import_outcomes(conn, path)
    return rows


@pytest.fixture(scope="module")
def region(tmp_path_factory) -> tuple[OmuHome, dict]:
    base = tmp_path_factory.mktemp("evaluation")
    landing = base / "landing"
    generate(landing, practices=2, quarters=quarter_range("2025Q3:2025Q4"), seed=3, patients=(1500, 1800))
    home = OmuHome.resolve(base / "home").prepare()
    home.config_file.write_text("outreach:\n  capacity:\n    P0001: 2\n")
    handed = {}
    for quarter in QUARTERS:
        summary = run_chain(home, landing, quarter=quarter)
        assert summary.success, [r.message for r in summary.runs if not r.success]
        for practice_id in PRACTICES:
            handed[(practice_id, quarter)] = hand_back_everything(home, base, practice_id, quarter)
    # the last quarter's reports once more, now that its outcomes are in: a real run of feedback_job
    job = build_definitions(home, str(landing)).resolve_job_def("feedback_job")
    for practice_id in PRACTICES:
        assert job.execute_in_process(
            partition_key=partition_key(practice_id, QUARTERS[-1]), instance=dg.DagsterInstance.get()
        ).success
    return home, handed


def store_figures(home: OmuHome, practice_id: str, quarter: str) -> dict:
    """The practice's figures counted straight from the store, independently of sql/evaluation/."""
    with duckdb.connect(str(home.database), read_only=True) as conn:
        people = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE over_threshold), count(*) FILTER (WHERE first_time) "
            "FROM screening WHERE practice_id = ? AND quarter = ? AND NOT backfilled",
            [practice_id, quarter],
        ).fetchall()[0]
        lists = conn.execute(
            "SELECT count(*) FILTER (WHERE l.listed), count(*) FILTER (WHERE NOT l.listed), "
            "count(*) FILTER (WHERE l.listed AND o.outcome IN ('bereikt', 'verwezen', 'afgezien')), "
            "count(*) FILTER (WHERE l.listed AND o.outcome = 'verwezen'), "
            "count(*) FILTER (WHERE l.listed AND o.outcome IS NULL) "
            "FROM outreach_lists AS l LEFT JOIN outreach_outcomes AS o USING (practice_id, quarter, patient_id) "
            "WHERE l.practice_id = ? AND l.quarter = ? AND l.list_kind = 'outreach'",
            [practice_id, quarter],
        ).fetchall()[0]
        region = dict(
            conn.execute(
                "SELECT indicator, value FROM indicators WHERE level = 'regio' AND quarter = ?", [quarter]
            ).fetchall()
        )
        ids = [p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()]
    keys = (
        "screened",
        "over_threshold",
        "first_time",
        "listed",
        "backlog",
        "reached",
        "referred",
        "no_outcome",
    )
    return dict(zip(keys, people + lists, strict=True)) | {"region": region, "patient_ids": ids}


def row_cells(page, section: str, key: str) -> list[str]:
    return page.locator(f'section#{section} tr[data-key="{key}"] td').all_inner_texts()


@pytest.mark.browser
def test_every_practice_gets_its_own_feedback_report_with_the_stores_figures(region, browser, artifacts):
    home, handed = region
    page = browser.new_page()
    for practice_id in PRACTICES:
        for quarter in QUARTERS:
            path = home.practice_out(quarter, practice_id) / "feedback.html"
            assert path.is_file(), path
            expected = store_figures(home, practice_id, quarter)
            page.goto(path.as_uri())
            assert page.locator("h1").inner_text() == f"Terugkoppeling praktijk {practice_id} — {quarter}"
            assert row_cells(page, "populatie", "screened")[1] == str(expected["screened"])
            assert row_cells(page, "populatie", "over_threshold")[1].startswith(
                f"{expected['over_threshold']} ("
            )
            assert row_cells(page, "populatie", "first_time")[1] == str(expected["first_time"])
            # the trend holds every delivered quarter up to this one
            trend = page.locator("section#trend tbody tr").evaluate_all(
                "rows => rows.map(r => r.dataset.key)"
            )
            assert trend == QUARTERS[: QUARTERS.index(quarter) + 1]
            if quarter == QUARTERS[-1]:  # made after every outcome came back: the list worked, now and before
                for key in ("listed", "backlog", "reached", "referred", "no_outcome"):
                    assert row_cells(page, "belijst", key)[1] == str(expected[key]), (
                        practice_id,
                        quarter,
                        key,
                    )
                for earlier in QUARTERS:
                    then = store_figures(home, practice_id, earlier)
                    cells = row_cells(page, "trend", earlier)
                    shown = dict(
                        zip(TREND_COLUMNS, (cells[i] for i in (1, 2, 4, 5, 6, 7, 8, 10)), strict=True)
                    )
                    assert shown == {key: str(then[key]) for key in TREND_COLUMNS}, (practice_id, earlier)
                # the funnel, per list quarter and cumulative
                cumulative = row_cells(page, "trechter", "cumulatief")
                assert int(cumulative[2]) == sum(
                    store_figures(home, practice_id, q)["listed"] for q in QUARTERS
                )
                assert int(cumulative[4]) == sum(
                    store_figures(home, practice_id, q)["reached"] for q in QUARTERS
                )
            # the region column shows only the published figure, as stored in `indicators`
            published = expected["region"].get("pct_over")
            region_cell = row_cells(page, "regio", "pct_over")[2]
            if published is None:
                assert region_cell.startswith("niet getoond")
            else:
                assert region_cell.startswith(f"{published:.1f}%".replace(".", ","))
            text = path.read_text(encoding="utf-8")
            assert not [p for p in expected["patient_ids"] if p in text]  # counts only
            assert all(other not in text for other in PRACTICES if other != practice_id)
    page.goto((home.practice_out(QUARTERS[-1], "P0001") / "feedback.html").as_uri())
    page.pdf(path=str(artifacts / "feedback-P0001.pdf"), format="A4")
    page.close()


def test_the_list_worked_adds_up_and_the_workload_uses_the_configured_capacity(region, browser):
    home, handed = region
    page = browser.new_page()
    # P0001 has capacity 2: whatever did not fit rolled over
    page.goto((home.practice_out("2025Q4", "P0001") / "feedback.html").as_uri())
    assert row_cells(page, "werklast", "capacity")[1] == "2"
    cells = {
        key: int(row_cells(page, "belijst", key)[1])
        for key in (
            "asked",
            "listed",
            "backlog",
            "attempted",
            "reached",
            "not_reached",
            "declined",
            "already_in_care",
            "referred",
            "no_outcome",
        )
    }
    assert cells["listed"] == 2 and cells["backlog"] > 0  # the generated data fill the list and more
    assert cells["asked"] == cells["listed"] + cells["backlog"]
    assert cells["attempted"] + cells["no_outcome"] == cells["listed"]
    assert cells["reached"] + cells["not_reached"] + cells["already_in_care"] == cells["attempted"]
    rows = handed[("P0001", "2025Q4")]
    assert cells["referred"] == rows.filter(pl.col("outcome") == "verwezen").height
    # every listed patient was handed back; the even ones within the working quarter
    contacts = rows.with_row_index().filter(pl.col("outcome") != "niet_bereikt")
    in_time = contacts.filter(pl.col("index") % 2 == 0).height
    assert row_cells(page, "werklast", "contacted_in_quarter")[1].startswith(f"{in_time} (")
    page.close()


def test_krachtige_basiszorg_is_stated_plainly_from_the_practices_own_patients(region):
    home, _ = region
    from omu.reference import wijken

    deprived = wijken().filter(pl.col("deprivation_group") == "hoog")["wijk_code"].to_list()
    with duckdb.connect(str(home.database), read_only=True) as conn:
        for practice_id in PRACTICES:
            total, in_deprived = conn.execute(
                "SELECT count(*), count(*) FILTER (WHERE list_contains(?, wijk_code)) FROM screening "
                "WHERE practice_id = ? AND quarter = '2025Q4' AND NOT backfilled",
                [deprived, practice_id],
            ).fetchall()[0]
            text = (home.practice_out("2025Q4", practice_id) / "feedback.html").read_text(encoding="utf-8")
            assert f"{in_deprived} van de {total} ingeschreven patiënten" in text
            verdict = (
                "<strong>voldoet</strong>" if in_deprived / total > 0.25 else "<strong>voldoet niet</strong>"
            )
            assert verdict in text


# --------------------------------------------------------------------------------------------
# Did the referral arrive? (hand-made practice of tests/test_outreach.py: five first-time crossers)
# --------------------------------------------------------------------------------------------


@pytest.fixture
def hand_made(tmp_path) -> tuple[OmuHome, Path]:
    """The practice of tests/test_outreach.py: five 80-year-olds crossing the threshold in 2025Q4."""
    landing = tmp_path / "landing"
    write_hand_made_practice(landing, OUTREACH_QUARTERS)
    return OmuHome.resolve(tmp_path / "home").prepare(), landing


def followup_sheet(home: OmuHome, quarter: str):
    import openpyxl

    from omu.evaluation.followup import FOLLOWUP_SHEET, add_followup_sheet, pending_followups

    xlsx = home.practice_out(quarter, PRACTICE) / "outreach.xlsx"
    with store.connect(home.database) as conn:
        add_followup_sheet(
            xlsx, pending_followups(conn, practice_id=PRACTICE, quarter=quarter), practice_id=PRACTICE
        )
    return xlsx, openpyxl.load_workbook(xlsx), FOLLOWUP_SHEET


def stored_followups(home: OmuHome) -> dict:
    with duckdb.connect(str(home.database), read_only=True) as conn:
        return {
            (q, p): (a, d)
            for q, p, a, d in conn.execute(
                "SELECT quarter, patient_id, arrived, arrived_on FROM referral_followups"
            ).fetchall()
        }


def test_a_referral_is_followed_up_in_a_later_quarter_on_the_follow_up_sheet(hand_made, tmp_path):
    from omu.evaluation.feedback import compute_feedback
    from omu.screening.profile import load_profile

    home, landing = hand_made
    a, b, c, d, e = CROSSERS
    make_list(home, landing, "2025Q4")
    hand_back(
        home,
        tmp_path,
        "2025Q4",
        {a: ("bereikt", None), d: ("verwezen", "apotheker"), e: ("verwezen", "buurtteam")},
    )
    make_list(home, landing, "2026Q1")
    xlsx, book, name = followup_sheet(home, "2026Q1")
    sheet = book[name]
    assert [cell.value for cell in sheet[1]] == [
        "Patiënt (pseudoniem)",
        "Kwartaal",
        "Verwezen naar",
        "Datum contact",
        "Aangekomen",
        "Datum aangekomen",
        "Praktijk",
    ]
    # the referred patients whose arrival is unknown, and no one else
    assert sorted((row[0], row[1], row[2]) for row in sheet.iter_rows(min_row=2, values_only=True)) == [
        (d, "2025Q4", "apotheker"),
        (e, "2025Q4", "buurtteam"),
    ]
    row_of = {sheet.cell(row=r, column=1).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(row=row_of[d], column=5, value="ja")
    sheet.cell(row=row_of[d], column=6, value=dt.datetime(2026, 2, 20))
    sheet.cell(row=row_of[e], column=5, value="onbekend")
    book.save(xlsx)
    with store.connect(home.database) as conn:
        summary = import_outcomes(conn, xlsx)
    assert summary.followups == 2
    assert stored_followups(home) == {
        ("2025Q4", d): ("ja", dt.date(2026, 2, 20)),
        ("2025Q4", e): ("onbekend", None),
    }
    with store.connect(home.database) as conn:
        assert import_outcomes(conn, xlsx).followups == 0  # the same file twice changes nothing
    # the next list still asks about e (onbekend), no longer about d
    make_list(home, landing, "2026Q2")
    _, book, name = followup_sheet(home, "2026Q2")
    assert [row[0] for row in book[name].iter_rows(min_row=2, values_only=True)] == [e]
    # the practice's funnel gains the step arrived
    with store.connect(home.database) as conn:
        fb = compute_feedback(conn, load_profile(), practice_id=PRACTICE, quarter="2026Q2", capacity=None)
    q4 = fb.quarters.filter(pl.col("quarter") == "2025Q4").to_dicts()[0]
    assert (q4["listed"], q4["reached"], q4["referred"], q4["arrived"], q4["arrival_unknown"]) == (
        5,
        3,
        2,
        1,
        1,
    )


def test_a_follow_up_on_the_referrals_own_row_and_a_bad_one_refuses_the_whole_file(hand_made, tmp_path):
    home, landing = hand_made
    a, b, c, d, e = CROSSERS
    make_list(home, landing, "2025Q4")
    path = hand_back(home, tmp_path, "2025Q4", {a: ("bereikt", None), d: ("verwezen", "apotheker")})
    # the same file, a quarter later, with two columns added on the referral's row
    rows = pl.read_csv(path, separator=";", infer_schema=False).with_columns(
        pl.when(pl.col("patient_id") == d).then(pl.lit("Nee")).alias("Aangekomen"),
        pl.when(pl.col("patient_id") == d).then(pl.lit("03-03-2026")).alias("Datum aangekomen"),
    )
    rows.write_csv(path, separator=";")
    with store.connect(home.database) as conn:
        summary = import_outcomes(conn, path)
    assert (summary.new, summary.changed, summary.followups) == (0, 0, 1)
    assert stored_followups(home) == {("2025Q4", d): ("nee", dt.date(2026, 3, 3))}
    # a follow-up for a patient who was not referred, and an answer outside ja/nee/onbekend: refused, all of it
    bad = rows.with_columns(
        pl.when(pl.col("patient_id") == a)
        .then(pl.lit("ja"))
        .otherwise(pl.lit("misschien"))
        .alias("Aangekomen"),
        pl.when(pl.col("patient_id") == a)
        .then(pl.lit("verwezen"))
        .otherwise(pl.col("outcome"))
        .alias("outcome"),
    )
    bad = bad.with_columns(
        pl.when(pl.col("patient_id") == a).then(pl.lit(None)).otherwise(pl.col("outcome")).alias("outcome")
    )
    bad.write_csv(path, separator=";")
    with store.connect(home.database) as conn, pytest.raises(OutcomeFileError) as refused:
        import_outcomes(conn, path)
    message = str(refused.value)
    assert "column arrived: unknown answer (allowed: ja, nee, onbekend)" in message
    assert "column patient_id: no referral to follow up" in message
    assert stored_followups(home) == {("2025Q4", d): ("nee", dt.date(2026, 3, 3))}


# --------------------------------------------------------------------------------------------
# Outcome after outreach, validated on generated data with a known effect of being reached
# --------------------------------------------------------------------------------------------


def simulated_cohort(tmp_path: Path, hazard_ratio: float) -> pl.DataFrame:
    """12 generated practices whose lists are worked (half reached) with a known hazard ratio of being
    reached; the cohort as the evaluation sees it: group, 12-month outcome, score, age, sex."""
    from omu.synthetic import OutreachLoop

    truth = tmp_path / f"truth-{hazard_ratio}"
    # six quarters of lists: about 200 listed patients, enough for a ratio of 0.4 to show (four gave ~150)
    generate(
        tmp_path / f"landing-{hazard_ratio}",
        practices=12,
        quarters=quarter_range("2023Q1:2024Q2"),
        seed=1,
        patients=(2500, 2500),
        truth_dir=truth,
        outreach=OutreachLoop(reach_probability=0.5, hazard_ratio=hazard_ratio),
    )
    rows = pl.concat([pl.read_parquet(path) for path in sorted(truth.glob("*.parquet"))])
    return rows.filter(pl.col("outreach").is_not_null()).select(
        pl.col("outreach").alias("outreach_group"),
        pl.col("outcome_12m").alias("outcome"),
        pl.lit(None, pl.Float64).alias("predicted_risk"),
        "score",
        "age",
        "sex",
    )


@pytest.mark.parametrize("hazard_ratio", [0.8, 1.0, 0.4])
def test_the_evaluation_recovers_a_known_effect_of_being_reached_within_its_interval(tmp_path, hazard_ratio):
    from omu.evaluation.outcome import estimate_effects

    cohort = simulated_cohort(tmp_path, hazard_ratio)
    assert cohort.height > 150 and set(cohort["outreach_group"]) == {"bereikt", "niet_bereikt"}
    effects, adjusted_for = estimate_effects(cohort)
    reached = effects["bereikt"]
    assert adjusted_for == "score, leeftijd en geslacht"
    assert reached.lower < hazard_ratio < reached.upper  # the interval covers the true effect
    if hazard_ratio == 1.0:
        assert reached.lower < 1 < reached.upper  # no effect: none found beyond chance
    if hazard_ratio == 0.4:
        assert reached.upper < 1  # a strong effect is found, not hidden by a wide interval


def test_without_a_loop_generation_is_unchanged(tmp_path):
    from omu.synthetic import OutreachLoop

    plain, looped = tmp_path / "plain", tmp_path / "looped"
    generate(plain, practices=1, quarters=quarter_range("2025Q1"), seed=2, patients=(300, 300))
    generate(
        looped,
        practices=1,
        quarters=quarter_range("2025Q1"),
        seed=2,
        patients=(300, 300),
        outreach=OutreachLoop(hazard_ratio=1.0),
        outcomes_dir=tmp_path / "outcomes",
    )
    for name in ("patients.csv", "episodes.csv", "prescriptions.csv", "contacts.csv"):
        before = (plain / "P0001" / "2025Q1" / name).read_bytes()
        assert before == (looped / "P0001" / "2025Q1" / name).read_bytes(), name


@pytest.fixture(scope="module")
def looped_region(tmp_path_factory) -> tuple[OmuHome, Path]:
    """Five quarters of two generated practices through real Dagster runs, the simulated loop's outcome
    files imported with `omu outcomes import`'s function, then the region step of the last quarter."""
    from omu.synthetic import OutreachLoop

    base = tmp_path_factory.mktemp("looped")
    generate(
        base / "landing",
        practices=1,
        quarters=quarter_range("2024Q1:2025Q1"),
        seed=6,
        patients=(4000, 4000),
        truth_dir=base / "truth",
        outreach=OutreachLoop(reach_probability=0.5, hazard_ratio=0.8),
        outcomes_dir=base / "outcomes",
    )
    home = OmuHome.resolve(base / "home").prepare()
    assert run_chain(home, base / "landing").success
    with store.connect(home.database) as conn:
        for path in sorted((base / "outcomes").rglob("*.csv")):
            import_outcomes(conn, path)
    region_job = build_definitions(home, str(base / "landing")).resolve_job_def("region_job")
    assert region_job.execute_in_process(partition_key="2025Q1", instance=dg.DagsterInstance.get()).success
    return home, base


def test_the_evaluation_cohort_reads_the_same_outcome_as_the_generators_truth(looped_region):
    from omu.evaluation.outcome import cohort_with_outcome
    from omu.models.outcome import load_outcome
    from omu.screening.profile import load_profile

    home, base = looped_region
    truth = pl.concat([pl.read_parquet(p) for p in sorted((base / "truth").glob("*.parquet"))])
    with store.connect(home.database) as conn:
        cohort_with_outcome(conn, load_profile(), load_outcome(), "2025Q1")
        exact = conn.sql(
            "SELECT p.patient_id, p.quarter, c.outreach_group, o.outcome FROM population AS p "
            "JOIN eval_cohort AS c USING (practice_id, patient_id) "
            "JOIN model_outcomes AS o USING (practice_id, quarter, patient_id)"
        ).pl()
    # only lists whose 12 months have passed by the last delivery: 2024Q1 (window to 31-03-2025)
    assert exact.height > 0 and set(exact["quarter"]) == {"2024Q1"}
    expected = exact.join(
        truth.select("patient_id", "quarter", "outreach", "outcome_12m"),
        on=["patient_id", "quarter"],
        how="left",
    )
    assert expected["outreach_group"].to_list() == expected["outreach"].to_list()
    assert expected["outcome"].to_list() == expected["outcome_12m"].to_list()


def test_the_regional_evaluation_is_published_suppressed_and_called_observational(looped_region):
    home, _ = looped_region
    folder = home.region_out("2025Q1")
    csv = pl.read_csv(folder / "evaluation.csv", separator=";")
    counts = csv.filter(
        pl.col("measure").is_in(
            ["n", "events", "crossed", "listed", "attempted", "reached", "referred", "arrived"]
        )
    )["value"].drop_nulls()
    assert counts.len() > 0 and not ((counts >= 1) & (counts <= 7)).any() and (counts % 5 == 0).all()
    assert set(csv.filter(pl.col("part") == "trechter")["key"]) == {
        "2024Q1",
        "2024Q2",
        "2024Q3",
        "2024Q4",
        "2025Q1",
        "cumulatief",
    }
    workload = csv.filter(pl.col("part") == "werklast")
    assert workload.height > 0 and all(
        key.startswith("P0001|2024") or key.startswith("P0001|2025") for key in workload["key"]
    )
    for key in set(workload["key"]):  # the share contacted comes from the shown counts only
        shown = dict(workload.filter(pl.col("key") == key).select("measure", "value").iter_rows())
        if shown["listed"] and shown["contacted_in_quarter"] is not None:
            share = 100 * min(shown["contacted_in_quarter"], shown["listed"]) / shown["listed"]
            assert shown["pct_contacted_in_quarter"] == pytest.approx(share)
        else:
            assert shown["pct_contacted_in_quarter"] is None
    for page in ("evaluation.html", "dashboard.html"):
        text = (folder / page).read_text(encoding="utf-8")
        assert 'id="evaluatie"' in text and "geen gerandomiseerde studie" in text
    with duckdb.connect(str(home.database), read_only=True) as conn:
        stored = conn.execute("SELECT count(*) FROM outreach_evaluation WHERE quarter = '2025Q1'").fetchall()[
            0
        ][0]
    assert stored == csv.height


def test_names_from_a_profile_or_a_practice_come_out_escaped_on_the_printable_pages(tmp_path):
    """A characteristic label (the profile's YAML) or a practice code holding markup is shown as text."""
    import dataclasses

    from omu.evaluation.feedback import COUNT_COLUMNS, PracticeFeedback, render_feedback
    from omu.evaluation.outcome import FUNNEL_STEPS, RegionEvaluation, write_evaluation_files
    from omu.models.outcome import load_outcome
    from omu.screening.profile import load_profile

    evil = "<script>alert('x')</script>"
    shown = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"
    profile = load_profile()
    first = dataclasses.replace(profile.characteristics[0], label=evil + "alleenwonend")
    profile = dataclasses.replace(profile, characteristics=(first, *profile.characteristics[1:]))
    quarters = pl.DataFrame(
        {"quarter": ["2026Q3"], **{c: [20] for c in COUNT_COLUMNS}, "median_days_to_contact": [10.0]}
    )
    characteristics = pl.DataFrame({"quarter": ["2026Q3"], "characteristic": [first.id], "first_time": [3]})
    referrals = pl.DataFrame(
        {"quarter": ["2026Q3"], "referral_target": ["welzijn"], "referred": [2], "arrived": [1]}
    )
    page = render_feedback(
        PracticeFeedback("P0001", "2026Q3", profile, 40, quarters, characteristics, referrals, {})
    )
    assert evil not in page and f"<td>{shown}alleenwonend</td>" in page

    workload = pl.DataFrame(
        {
            "practice_id": [evil],
            "quarter": ["2026Q3"],
            "capacity": [40],
            **{c: [10] for c in ("asked", "listed", "backlog", "contacted_in_quarter")},
            "pct_contacted_in_quarter": [100.0],
        }
    )
    result = RegionEvaluation(
        "2026Q3",
        pl.DataFrame(
            {"group": ["bereikt"], "n": [10], "events": [None], "pct": [None], "pct_lower": [None]}
            | {"pct_upper": [None], "hr": [None], "hr_lower": [None], "hr_upper": [None]},
            schema_overrides={"events": pl.Int64, "pct": pl.Float64, "hr": pl.Float64},
        ),
        pl.DataFrame({"quarter": ["2026Q3"], **{s: [10] for s in FUNNEL_STEPS}, "median_days": [5.0]}),
        "voorspeld risico, leeftijd en geslacht",
        workload,
    )
    evaluation = write_evaluation_files(tmp_path, result, load_outcome())["evaluation.html"]
    page = evaluation.read_text(encoding="utf-8")
    assert evil not in page and f"<td>{shown}</td>" in page
