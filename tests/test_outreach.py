"""Outreach lists as docs/outreach.md's rules say, and the files a POH works with (read back for real)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import duckdb
import openpyxl
import polars as pl
import pytest

from omu import reference, store
from omu.home import OmuHome
from omu.outreach.exclusions import ExclusionFileError, import_exclusions
from omu.outreach.list_files import column_header, write_practice_lists
from omu.outreach.lists import OUTCOMES, REFERRAL_TARGETS, build_lists
from omu.outreach.outcomes import OutcomeFileError, import_outcomes
from omu.quarters import Quarter
from omu.screening.profile import load_profile
from omu.synthetic import VENDOR_DIALECTS, write_delivery
from tests.test_screening_spec import load_and_screen

D = dt.date
PRACTICE = "P0700"
QUARTERS = ["2025Q4", "2026Q1", "2026Q2", "2026Q3"]
# Five 80-year-olds living alone (2 points) who start a beta-blocker in November 2025 (the third
# point) and keep it: all five cross the threshold for the first time in 2025Q4.
CROSSERS = ["crossA000000001", "crossB000000002", "crossC000000003", "crossD000000004", "crossE000000005"]
# One was already over the threshold long before: the baseline list.
ALREADY = "alreadyF0000006"


def tables(extracted_on: dt.date) -> dict[str, pl.DataFrame]:
    ids = CROSSERS + [ALREADY]
    refills = [D(2025, 11, 1) + dt.timedelta(days=90 * k) for k in range(5)]
    prescriptions = [(pid, "C07AB02", day) for pid in CROSSERS for day in refills if day <= extracted_on]
    prescriptions += [(ALREADY, "C07AB02", D(2020, 1, 1) + dt.timedelta(days=90 * k)) for k in range(28)]
    prescriptions = [row for row in prescriptions if row[2] <= extracted_on]
    return {
        "patients.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "birth_year": [1945, 1944, 1943, 1942, 1941, 1940],
                "sex": ["V", "M"] * 3,
                "wijk_code": ["WK034403"] * 6,
                "registered_from": [D(2000, 1, 1)] * 6,
            }
        ),
        "episodes.csv": pl.DataFrame(
            schema={"patient_id": pl.String, "icpc": pl.String, "start_date": pl.Date}
        ),
        "prescriptions.csv": pl.DataFrame(
            prescriptions,
            orient="row",
            schema={"patient_id": pl.String, "atc": pl.String, "prescribed_on": pl.Date},
        ),
        "determinations.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "code": [9001] * 6,
                "measured_on": [D(2015, 1, 1)] * 6,
                "value": ["alleen"] * 6,
            }
        ),
    }


def write_hand_made_practice(landing: Path, quarters: list[str], practice_id: str = PRACTICE) -> None:
    """The hand-made practice's deliveries of `quarters` (extracted 4 days after each quarter)."""
    for quarter in quarters:
        extracted = Quarter.parse(quarter).reference_date + dt.timedelta(days=4)
        write_delivery(
            landing / practice_id / quarter,
            practice_id=practice_id,
            quarter=quarter,
            extracted_on=extracted,
            tables=tables(extracted),
            dialect=VENDOR_DIALECTS[3],
        )


@pytest.fixture
def practice(tmp_path) -> tuple[OmuHome, Path]:
    landing = tmp_path / "landing"
    write_hand_made_practice(landing, QUARTERS)
    return OmuHome.resolve(tmp_path / "home").prepare(), landing


def make_list(home: OmuHome, landing: Path, quarter: str, capacity: int | None = None):
    load_and_screen(home, landing, [(PRACTICE, quarter)])
    profile = load_profile()
    with store.connect(home.database) as conn:
        lists = build_lists(conn, profile, practice_id=PRACTICE, quarter=quarter, capacity=capacity)
    write_practice_lists(
        home.practice_out(quarter, PRACTICE), lists, profile, practice_id=PRACTICE, quarter=quarter
    )
    return lists


def on_list(lists) -> dict[str, tuple[str, int]]:
    return {
        row["patient_id"]: (row["inclusion"], row["earlier_attempts"])
        for row in lists.outreach.iter_rows(named=True)
    }


def hand_back(
    home: OmuHome, tmp_path: Path, quarter: str, outcomes: dict[str, tuple[str, str | None]]
) -> Path:
    path = outcome_file(tmp_path, quarter, outcomes)
    with store.connect(home.database) as conn:
        import_outcomes(conn, path)
    return path


def outcome_file(
    folder: Path, quarter: str, outcomes: dict[str, tuple[str, str | None]], practice_id: str = PRACTICE
) -> Path:
    """The POH's file handed back: per patient (outcome, referral target), dated in the next quarter."""
    path = folder / f"outcomes-{practice_id}-{quarter}.csv"
    pl.DataFrame(
        {
            "patient_id": list(outcomes),
            "quarter": [quarter] * len(outcomes),
            "outcome": [o for o, _ in outcomes.values()],
            "referral_target": [t for _, t in outcomes.values()],
            "date": [
                "15-"
                + f"{Quarter.parse(quarter).next().start.month:02d}-"
                + str(Quarter.parse(quarter).next().year)
            ]
            * len(outcomes),
            "note": [None] * len(outcomes),
            "practice_id": [practice_id] * len(outcomes),
        }
    ).write_csv(path, separator=";")
    return path


def test_outcomes_change_the_next_quarters_list_as_the_rules_say(practice, tmp_path):
    home, landing = practice
    a, b, c, d, e = CROSSERS
    first = make_list(home, landing, "2025Q4")
    assert on_list(first) == {pid: ("nieuw", 0) for pid in CROSSERS}
    assert [r["patient_id"] for r in first.baseline.iter_rows(named=True)] == [ALREADY]

    hand_back(
        home,
        tmp_path,
        "2025Q4",
        {
            a: ("bereikt", None),
            b: ("niet_bereikt", None),
            d: ("verwezen", "apotheker"),
            e: ("al_in_zorg", None),
        },
    )
    second = make_list(home, landing, "2026Q1")
    # reached, referred and already-in-care patients are done; not reached returns; no outcome returns too
    assert on_list(second) == {b: ("niet_bereikt", 1), c: ("geen_uitkomst", 1)}
    assert second.baseline.is_empty()  # the baseline belongs to the first quarter only

    hand_back(home, tmp_path, "2026Q1", {b: ("niet_bereikt", None), c: ("afgezien", None)})
    third = make_list(home, landing, "2026Q2")
    assert on_list(third) == {b: ("niet_bereikt", 2)}
    # the list shows each earlier quarter: when listed, each attempt's date and outcome
    assert third.outreach.row(0, named=True)["history"] == (
        "2025Q4: op de lijst; 15-01-2026 niet_bereikt\n2026Q1: op de lijst; 15-04-2026 niet_bereikt"
    )

    hand_back(home, tmp_path, "2026Q2", {b: ("niet_bereikt", None)})
    fourth = make_list(home, landing, "2026Q3")
    assert on_list(fourth) == {}  # the third failed attempt stops


def test_every_reason_shows_the_record_behind_it(practice):
    home, landing = practice
    lists = make_list(home, landing, "2025Q4")
    row = next(r for r in lists.outreach.iter_rows(named=True) if r["patient_id"] == CROSSERS[0])
    assert row["evidence"].split("\n") == [
        "ouder dan 55: leeftijd 80",
        "woont alleen: bepaling 9001 = alleen, 01-01-2015",
        "gebruikt bètablokker: metoprolol (C07AB02), 01-11-2025",
    ]
    assert row["history"] is None  # nothing earlier
    baseline = lists.baseline.row(0, named=True)  # two beta-blocker prescriptions in the 180 days
    assert (
        "gebruikt bètablokker: metoprolol (C07AB02), 2 voorschriften, laatst 30-11-2025"
        in baseline["evidence"]
    )
    xlsx = openpyxl.load_workbook(home.practice_out("2025Q4", PRACTICE) / "outreach.xlsx")["Belijst"]
    headers = [c.value for c in xlsx[1]]
    assert {"Onderbouwing", "Eerdere kwartalen"} <= set(headers)
    cells = [r[headers.index("Onderbouwing")] for r in xlsx.iter_rows(min_row=2, values_only=True)]
    assert all("leeftijd" in cell and "bètablokker" in cell for cell in cells)


def test_capacity_rolls_the_rest_to_the_next_quarter_highest_score_then_oldest_first(practice, tmp_path):
    home, landing = practice
    first = make_list(home, landing, "2025Q4", capacity=2)
    # equal scores: the oldest first (born 1941 and 1942)
    assert [r["patient_id"] for r in first.outreach.iter_rows(named=True)] == [CROSSERS[4], CROSSERS[3]]
    assert first.carried_over == 3
    hand_back(home, tmp_path, "2025Q4", {CROSSERS[4]: ("bereikt", None), CROSSERS[3]: ("bereikt", None)})
    second = make_list(home, landing, "2026Q1", capacity=2)
    assert on_list(second) == {CROSSERS[2]: ("doorgeschoven", 0), CROSSERS[1]: ("doorgeschoven", 0)}
    assert second.carried_over == 1


def test_the_xlsx_is_a_working_file_for_the_poh(practice, tmp_path):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    folder = home.practice_out("2025Q4", PRACTICE)
    book = openpyxl.load_workbook(folder / "outreach.xlsx")
    assert book.sheetnames == ["Belijst", "Toelichting"]
    sheet = book["Belijst"]
    headers = [cell.value for cell in sheet[1]]
    assert headers[:5] == ["Volgorde", "Patiënt (pseudoniem)", "Leeftijd", "Geslacht", "Score"]
    assert {
        "Redenen",
        "Mogelijke vervolgstap",
        "Op de lijst omdat",
        "Eerste keer boven drempel",
        "Eerdere pogingen",
        "Uitkomst",
        "Verwezen naar",
        "Notities",
        "Profiel",
    } <= set(headers)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref.startswith("A1:")
    lists = {
        v.formula1.strip('"'): str(v.sqref) for v in sheet.data_validations.dataValidation if v.type == "list"
    }
    outcome_column = openpyxl.utils.get_column_letter(headers.index("Uitkomst") + 1)
    assert lists[",".join(OUTCOMES)].startswith(f"{outcome_column}2:")
    assert ",".join(REFERRAL_TARGETS) in lists
    assert all(sheet.column_dimensions[letter].width >= 7 for letter in "ABCDEFG")
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert len(rows) == 5
    assert {row[headers.index("Profiel")] for row in rows} == {
        "omu-basis v1"
    }  # every output names its profile
    reasons = rows[0][headers.index("Redenen")]
    assert reasons == "ouder dan 55; woont alleen; gebruikt bètablokker"
    steps = rows[0][headers.index("Mogelijke vervolgstap")]
    assert "Welzijn op Recept" in steps and "medicatiebeoordeling" in steps and "valpreventie" in steps
    help_text = " ".join(str(c.value) for row in book["Toelichting"] for c in row if c.value)
    assert "omu-basis versie 1" in help_text and "drempel" in help_text.lower()
    assert (folder / "baseline.xlsx").is_file()
    assert openpyxl.load_workbook(folder / "baseline.xlsx").sheetnames == ["Startlijst", "Toelichting"]


def test_the_csv_opens_in_dutch_excel(practice):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    data = (home.practice_out("2025Q4", PRACTICE) / "outreach.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    header = data[3:].split(b"\n")[0].decode()
    assert header.split(";")[:2] == ["Volgorde", column_header("patient_id")]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == 6  # header + 5 patients (the evidence cells hold line breaks, quoted)


def test_the_printable_page_renders_in_chromium(practice, browser, artifacts):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    page = browser.new_page(viewport={"width": 1123, "height": 794})  # A4 landscape at 96 dpi
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto((home.practice_out("2025Q4", PRACTICE) / "outreach.html").as_uri())
    assert page.locator("tbody tr").count() == 5
    assert "Belijst praktijk P0700" in page.locator("h1").inner_text()
    page.screenshot(path=str(artifacts / "outreach-list.png"), full_page=True)
    page.pdf(path=str(artifacts / "outreach-list.pdf"), format="A4", landscape=True)
    assert errors == []
    page.close()


def test_the_xlsx_comes_back_filled_in(practice, tmp_path):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    path = home.practice_out("2025Q4", PRACTICE) / "outreach.xlsx"
    book = openpyxl.load_workbook(path)
    sheet = book["Belijst"]
    headers = [cell.value for cell in sheet[1]]
    column = {
        name: headers.index(name) + 1 for name in ("Uitkomst", "Verwezen naar", "Datum contact", "Notities")
    }
    sheet.cell(row=2, column=column["Uitkomst"], value="verwezen")
    sheet.cell(row=2, column=column["Verwezen naar"], value="welzijn_op_recept")
    sheet.cell(row=2, column=column["Datum contact"], value=dt.datetime(2026, 1, 12))
    sheet.cell(row=3, column=column["Uitkomst"], value="niet bereikt")  # a space instead of _ is understood
    sheet.cell(row=3, column=column["Notities"], value="voicemail ingesproken")
    filled = tmp_path / "teruggemeld.xlsx"
    book.save(filled)
    with store.connect(home.database) as conn:
        summary = import_outcomes(conn, filled)
        again = import_outcomes(conn, filled)
        stored = conn.execute(
            "SELECT outcome, referral_target, outcome_date FROM outreach_outcomes ORDER BY 1"
        ).fetchall()
    assert (summary.new, summary.skipped_blank) == (2, 3)
    assert (again.new, again.changed, again.unchanged) == (0, 0, 2)  # the same file twice changes nothing
    assert stored == [("niet_bereikt", None, None), ("verwezen", "welzijn_op_recept", D(2026, 1, 12))]


BAD_ROWS = {
    "unknown patient": ({"patient_id": "nobody000000000"}, "patient_id", "unknown patient"),
    "unknown outcome": ({"outcome": "gebeld"}, "outcome", "unknown outcome"),
    "wrong practice": ({"practice_id": "P0999"}, "practice_id", "wrong practice"),
    "referral without a target": (
        {"outcome": "verwezen", "referral_target": None},
        "referral_target",
        "needs a referral target",
    ),
    "target without referral": ({"referral_target": "buurtteam"}, "referral_target", "verwezen only"),
    "not a date": ({"date": "gisteren"}, "outcome_date", "not a date"),
}


@pytest.mark.parametrize("case", BAD_ROWS)
def test_a_bad_row_refuses_the_whole_file_naming_row_and_column(practice, tmp_path, case):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    change, column, words = BAD_ROWS[case]
    rows = [
        {
            "patient_id": pid,
            "quarter": "2025Q4",
            "outcome": "bereikt",
            "referral_target": None,
            "date": "10-01-2026",
            "note": None,
            "practice_id": PRACTICE,
        }
        for pid in CROSSERS[:3]
    ]
    rows[1].update(change)
    path = tmp_path / "outcomes.csv"
    pl.DataFrame(rows, schema={k: pl.String for k in rows[0]}).write_csv(path, separator=";")
    with store.connect(home.database) as conn, pytest.raises(OutcomeFileError) as refused:
        import_outcomes(conn, path, practice=PRACTICE if case == "wrong practice" else None)
    assert f"row 3, column {column}: " in str(refused.value) and words in str(refused.value)
    with duckdb.connect(str(home.database), read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM outreach_outcomes").fetchall() == [(0,)]


def test_a_practice_folder_holds_only_its_own_patients(tmp_path):
    from omu.quarters import quarter_range
    from omu.synthetic import generate

    generate(
        tmp_path / "landing", practices=3, quarters=quarter_range("2026Q3"), seed=21, patients=(120, 200)
    )
    home = OmuHome.resolve(tmp_path / "home").prepare()
    practices = sorted(p.name for p in (tmp_path / "landing").iterdir())
    load_and_screen(home, tmp_path / "landing", [(p, "2026Q3") for p in practices])
    profile = load_profile()
    with store.connect(home.database) as conn:
        own = {
            p: {
                pid
                for (pid,) in conn.execute(
                    "SELECT patient_id FROM patients WHERE practice_id = ?", [p]
                ).fetchall()
            }
            for p in practices
        }
        for p in practices:
            lists = build_lists(conn, profile, practice_id=p, quarter="2026Q3", capacity=None)
            write_practice_lists(
                home.practice_out("2026Q3", p), lists, profile, practice_id=p, quarter="2026Q3"
            )
    for p in practices:
        others = set().union(*(own[q] for q in practices if q != p))
        folder = home.practice_out("2026Q3", p)
        files = list(folder.iterdir())
        assert {f.name for f in files} >= {"outreach.xlsx", "outreach.csv", "outreach.html", "baseline.xlsx"}
        text = "\n".join(
            f.read_text(encoding="utf-8-sig")
            if f.suffix in (".csv", ".html")
            else "\n".join(
                str(c)
                for sheet in openpyxl.load_workbook(f).worksheets
                for row in sheet.iter_rows(values_only=True)
                for c in row
            )
            for f in files
        )
        assert not [pid for pid in others if pid in text]
        assert any(pid in text for pid in own[p])


def exclude(home: OmuHome, tmp_path: Path, name: str, rows: dict[str, tuple[str, str | None]]) -> str:
    path = tmp_path / name
    pl.DataFrame(
        {
            "patient_id": list(rows),
            "exclusion": [r for r, _ in rows.values()],
            "exclusion_until": [u for _, u in rows.values()],
            "practice_id": [PRACTICE] * len(rows),
        }
    ).write_csv(path, separator=";")
    with store.connect(home.database) as conn:
        summary = import_exclusions(conn, path, recorded_by="huisarts Jansen")
    return f"{summary.changed} changed, {summary.unchanged} unchanged"


def test_the_gp_excludes_patients_before_anyone_calls_across_quarters(practice, tmp_path):
    home, landing = practice
    a, b, c, d, e = CROSSERS
    load_and_screen(home, landing, [(PRACTICE, "2025Q4")])
    assert (
        exclude(
            home,
            tmp_path,
            "exclusions.csv",
            {
                a: ("palliatief", None),
                b: ("tijdelijk", "31-03-2026"),
                c: ("bezwaar", None),
                ALREADY: ("niet_benaderen", None),
            },
        )
        == "4 changed, 0 unchanged"
    )
    assert exclude(home, tmp_path, "exclusions.csv", {a: ("palliatief", None)}) == "0 changed, 1 unchanged"

    first = make_list(home, landing, "2025Q4")
    assert on_list(first) == {d: ("nieuw", 0), e: ("nieuw", 0)}
    assert first.baseline.is_empty()  # ALREADY is excluded from the baseline list too
    assert first.excluded == 4  # the help sheet says how many, never who
    second = make_list(home, landing, "2026Q1")  # tijdelijk up to and including 31-03-2026
    assert on_list(second) == {d: ("geen_uitkomst", 1), e: ("geen_uitkomst", 1)}
    third = make_list(home, landing, "2026Q2")  # b's exclusion ended: b comes on the list
    assert on_list(third) == {b: ("na_uitsluiting", 0), d: ("geen_uitkomst", 2), e: ("geen_uitkomst", 2)}
    exclude(home, tmp_path, "lift.csv", {a: ("opgeheven", None)})
    fourth = make_list(home, landing, "2026Q3")
    assert a in on_list(fourth) and c not in on_list(fourth)

    with duckdb.connect(str(home.database), read_only=True) as conn:
        # bezwaar: never screened, in no quarter, so in no aggregate; who and when are kept
        assert conn.execute("SELECT count(*) FROM score_history WHERE patient_id = ?", [c]).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM score_history WHERE patient_id = ?", [d]).fetchone()[0] >= 4
        kept = conn.execute("SELECT DISTINCT recorded_by FROM exclusions").fetchall()
    assert kept == [("huisarts Jansen",)]


@pytest.mark.parametrize(
    "row, words",
    [
        ({"exclusion": "overleden"}, "column exclusion: missing or unknown reason"),
        ({"exclusion": "tijdelijk"}, "column exclusion_until: tijdelijk needs an end date"),
        (
            {"exclusion": "palliatief", "exclusion_until": "01-01-2027"},
            "an end date belongs to tijdelijk only",
        ),
        ({"exclusion": "tijdelijk", "exclusion_until": "31-02-2027"}, "not a date"),
        ({"patient_id": "nobody0000000000"}, "unknown patient"),
    ],
)
def test_a_bad_exclusion_refuses_the_file_naming_row_and_column(practice, tmp_path, row, words):
    home, landing = practice
    load_and_screen(home, landing, [(PRACTICE, "2025Q4")])
    values = {
        "patient_id": CROSSERS[0],
        "exclusion": "palliatief",
        "exclusion_until": None,
        "practice_id": PRACTICE,
    } | row
    path = tmp_path / "bad.csv"
    pl.DataFrame({k: [v] for k, v in values.items()}, schema={k: pl.String for k in values}).write_csv(
        path, separator=";"
    )
    with store.connect(home.database) as conn, pytest.raises(ExclusionFileError) as refused:
        import_exclusions(conn, path, recorded_by="huisarts Jansen")
    assert "bad.csv, row 2" in str(refused.value) and words in str(refused.value)


def test_the_new_referral_targets_come_back_also_into_an_older_store(tmp_path):
    assert {"wijkverpleging", "maatschappelijk_werk", "longfysiotherapeut"} <= set(REFERRAL_TARGETS)
    database = tmp_path / "old.duckdb"
    with duckdb.connect(str(database)) as conn:  # outreach_outcomes as stores made it before
        conn.execute("""CREATE TABLE outreach_outcomes (practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL,
            patient_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL, referral_target VARCHAR CHECK (referral_target IN
            ('welzijn_op_recept', 'buurtteam', 'praktijkverpleegkundige', 'apotheker', 'valpreventie', 'anders')),
            outcome_date DATE, note VARCHAR, imported_at TIMESTAMP NOT NULL, source_file VARCHAR NOT NULL)""")
        conn.execute(
            "INSERT INTO outreach_outcomes VALUES ('P0700', '2025Q4', 'x', 'verwezen', 'apotheker', NULL, "
            "NULL, now(), 'old.xlsx')"
        )
    from omu.outreach.lists import prepare_outreach_tables

    with duckdb.connect(str(database)) as conn:
        prepare_outreach_tables(conn)
        conn.execute(
            "INSERT INTO outreach_outcomes BY NAME SELECT 'P0700' AS practice_id, '2025Q4' AS quarter, "
            "'y' AS patient_id, 'verwezen' AS outcome, 'longfysiotherapeut' AS referral_target, "
            "now() AS imported_at, 'new.xlsx' AS source_file"
        )
        rows = conn.execute(
            "SELECT patient_id, referral_target, profile_name, profile_version "
            "FROM outreach_outcomes ORDER BY 1"
        ).fetchall()
    assert rows == [("x", "apotheker", "omu-basis", 1), ("y", "longfysiotherapeut", "omu-basis", 1)]


def test_a_store_that_fixed_the_outcome_values_in_a_check_takes_the_vocabulary_after_one_migration(tmp_path):
    database = tmp_path / "old.duckdb"
    with duckdb.connect(str(database)) as conn:  # outreach_outcomes as the schema made it before
        conn.execute("""CREATE TABLE outreach_outcomes (practice_id VARCHAR NOT NULL, quarter VARCHAR NOT NULL,
            patient_id VARCHAR NOT NULL, outcome VARCHAR NOT NULL CHECK (outcome IN ('bereikt', 'niet_bereikt',
            'afgezien', 'verwezen', 'al_in_zorg')), referral_target VARCHAR, outcome_date DATE, note VARCHAR,
            imported_at TIMESTAMP NOT NULL, source_file VARCHAR NOT NULL)""")
        conn.execute(
            "INSERT INTO outreach_outcomes VALUES ('P0700', '2025Q4', 'x', 'bereikt', NULL, NULL, NULL, now(), 'a')"
        )
    from omu.outreach.lists import prepare_outreach_tables

    with duckdb.connect(str(database)) as conn:
        prepare_outreach_tables(conn)
        # the vocabulary decides (checked on import), not the store: a value added to outcomes.csv is kept
        conn.execute(
            "INSERT INTO outreach_outcomes BY NAME SELECT 'P0700' AS practice_id, '2025Q4' AS quarter, "
            "'y' AS patient_id, 'overleden' AS outcome, now() AS imported_at, 'b' AS source_file"
        )
        rows = conn.execute("SELECT patient_id, outcome FROM outreach_outcomes ORDER BY 1").fetchall()
    assert rows == [("x", "bereikt"), ("y", "overleden")]


def test_the_gp_excludes_on_the_lists_own_xlsx(practice, tmp_path):
    home, landing = practice
    make_list(home, landing, "2025Q4")
    path = home.practice_out("2025Q4", PRACTICE) / "outreach.xlsx"
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["Belijst"]
    headers = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=headers.index("Uitsluiten (huisarts)") + 1, value="tijdelijk")
    sheet.cell(row=2, column=headers.index("Uitsluiten tot") + 1, value=dt.datetime(2026, 3, 31))
    excluded = sheet.cell(row=2, column=headers.index("Patiënt (pseudoniem)") + 1).value
    workbook.save(tmp_path / "filled.xlsx")
    with store.connect(home.database) as conn:
        assert import_exclusions(conn, tmp_path / "filled.xlsx", recorded_by="huisarts Jansen").changed == 1
        assert conn.execute(
            "SELECT reason, until FROM exclusions WHERE patient_id = ?", [excluded]
        ).fetchall() == [("tijdelijk", dt.date(2026, 3, 31))]
    assert excluded not in on_list(make_list(home, landing, "2026Q1"))


def test_an_outcome_value_is_one_edit_of_its_vocabulary(practice, tmp_path, monkeypatch):
    """A new outcome value is one line in clinical/reference/outcomes.csv: the import accepts it and
    the next list treats it by its flags (final: not listed again), with no other change."""
    home, landing = practice
    a, b, *_ = CROSSERS
    make_list(home, landing, "2025Q4")
    with pytest.raises(OutcomeFileError, match="unknown outcome"):
        hand_back(home, tmp_path, "2025Q4", {a: ("overleden", None)})

    vocabulary = tmp_path / "outcomes.csv"
    vocabulary.write_text(
        reference.OUTCOMES_FILE.read_text(encoding="utf-8")
        + "overleden,overleden,true,false,false,,overleden,\n",
        encoding="utf-8",
    )
    monkeypatch.setattr(reference, "OUTCOMES_FILE", vocabulary)
    hand_back(home, tmp_path, "2025Q4", {a: ("overleden", None), b: ("niet_bereikt", None)})
    with duckdb.connect(str(home.database), read_only=True) as conn:
        stored = conn.execute(
            "SELECT patient_id, outcome FROM outreach_outcomes ORDER BY patient_id"
        ).fetchall()
    assert stored == [(a, "overleden"), (b, "niet_bereikt")]
    second = make_list(home, landing, "2026Q1")
    assert a not in on_list(second)  # final
    assert on_list(second)[b] == ("niet_bereikt", 1)


def test_a_batch_of_practices_gets_exactly_the_lists_it_gets_practice_by_practice(tmp_path):
    """build_lists_batch builds every practice's lists in one pass; build_lists builds one. The
    same store copied twice, built both ways over two quarters, holds the very same rows: each
    practice ranked and cut to its own capacity, with its own risks, exclusions, outcomes and
    carry-over, also for two practices whose pseudonyms are the same."""
    import shutil

    from polars.testing import assert_frame_equal

    from omu.outreach.lists import build_lists_batch
    from omu.quarters import quarter_range
    from omu.synthetic import generate

    landing = tmp_path / "landing"
    quarters = ["2025Q4", "2026Q1"]
    generate(landing, practices=3, quarters=quarter_range("2025Q4:2026Q1"), seed=21, patients=(150, 250))
    twin = "P0701"  # the hand-made practice again: the same pseudonyms as P0700
    for practice_id in (PRACTICE, twin):
        write_hand_made_practice(landing, quarters, practice_id)
    home = OmuHome.resolve(tmp_path / "home").prepare()
    practices = sorted(p.name for p in landing.iterdir())
    load_and_screen(home, landing, [(p, q) for q in quarters for p in practices])
    capacities: dict[str, int | None] = {p: None for p in practices} | {PRACTICE: 2, "P0003": 1}
    exclusions = tmp_path / "exclusions.csv"
    pl.DataFrame(
        {"patient_id": [CROSSERS[0]], "exclusion": ["niet_benaderen"], "practice_id": [twin]}
    ).write_csv(exclusions, separator=";")
    with store.connect(home.database) as conn:
        import_exclusions(conn, exclusions, recorded_by="huisarts Jansen")
        # P0700's risks (as the risk model's asset writes them) turn the score order around;
        # its twin has none, so its list keeps the score order
        conn.execute(
            "INSERT INTO risk_scores SELECT practice_id, quarter, patient_id, 1.0 / (1 + score + age), "
            "'risk', 'test', current_timestamp FROM screening WHERE practice_id = ?",
            [PRACTICE],
        )
    copies = {way: tmp_path / f"{way}.duckdb" for way in ("batch", "one_by_one")}
    for path in copies.values():
        shutil.copy(home.database, path)
    profile = load_profile()

    def rows(way: str) -> pl.DataFrame:
        with store.connect(copies[way]) as conn:
            return conn.sql("SELECT * EXCLUDE (created_at) FROM outreach_lists ORDER BY ALL").pl()

    def fields(lists) -> tuple:
        return (
            lists.outreach.drop("created_at").rows(),
            lists.baseline.drop("created_at").rows(),
            lists.carried_over,
            lists.has_risk_model,
            lists.is_first_quarter,
            lists.excluded,
        )

    built: dict[str, dict] = {}
    for quarter in quarters:
        with store.connect(copies["batch"]) as conn:
            batch = build_lists_batch(conn, profile, quarter=quarter, capacities=capacities)
        with store.connect(copies["one_by_one"]) as conn:
            one_by_one = {
                p: build_lists(conn, profile, practice_id=p, quarter=quarter, capacity=capacity)
                for p, capacity in capacities.items()
            }
        assert list(batch) == list(capacities)
        assert {p: fields(lists) for p, lists in batch.items()} == {
            p: fields(lists) for p, lists in one_by_one.items()
        }
        assert_frame_equal(rows("batch"), rows("one_by_one"))
        built[quarter] = batch
        if quarter == quarters[0]:  # the POH hands back the first quarter's outcomes
            first, second = (r["patient_id"] for r in batch[PRACTICE].outreach.iter_rows(named=True))
            handed = {PRACTICE: {first: ("niet_bereikt", None), second: ("bereikt", None)}}
            handed[twin] = {second: ("niet_bereikt", None)}
            for path in copies.values():
                with store.connect(path) as conn:
                    for p, outcomes in handed.items():
                        import_outcomes(conn, outcome_file(tmp_path, quarter, outcomes, practice_id=p))

    # what was compared is worth comparing: capacity cut one practice's list and its rest came back
    first, then = built["2025Q4"], built["2026Q1"]
    assert (first[PRACTICE].outreach.height, first[PRACTICE].carried_over) == (2, 3)
    assert first[PRACTICE].has_risk_model and not first[twin].has_risk_model
    assert (first[twin].outreach.height, first[twin].excluded) == (4, 1)
    assert (
        first[PRACTICE].outreach["patient_id"].to_list()
        != first[twin].outreach["patient_id"].head(2).to_list()
    )
    assert sorted(on_list(then[PRACTICE]).values()) == [("doorgeschoven", 0), ("niet_bereikt", 1)]
    assert then[PRACTICE].carried_over == 2
    assert ("niet_bereikt", 1) in on_list(then[twin]).values()
    # the generated practices' baselines came through the batch too, and are never cut
    generated = [p for p in practices if p not in (PRACTICE, twin)]
    assert all(first[p].baseline.height for p in generated)
    assert first["P0003"].baseline.height > 1 and first["P0003"].baseline["listed"].cast(pl.Boolean).all()
