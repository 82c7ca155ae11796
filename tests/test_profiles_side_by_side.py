"""Two profiles side by side (omu-basis v1 and astma-signaal v1), materialised through Dagster:
their lists, outcomes and regional indicators stay apart, and the default keeps today's paths."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dagster as dg
import duckdb
import openpyxl
import polars as pl
import pytest

from omu import store
from omu.assets.checks import checks_for
from omu.assets.dashboards import regional_dashboard, regional_indicators
from omu.assets.ingest import ingest_delivery_asset
from omu.assets.outreach import outreach_list
from omu.assets.screening import first_time_crossers, score_history
from omu.home import OmuHome
from omu.outreach.outcomes import OutcomeFileError, import_outcomes, read_outcome_file
from omu.pipelines.partitions import partition_key
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.synthetic import VENDOR_DIALECTS, write_delivery

D = dt.date
OLD = [f"oldie{n:011d}" for n in range(3)]  # 80, living alone, hard of hearing: omu-basis only
YOUNG = [f"young{n:011d}" for n in range(3)]  # 22, reliever only, no contacts: astma-signaal only
BOTH = "bothx00000000001"  # 35, living alone, hard of hearing and low vision, reliever only: both lists
ASTHMA = "astma-signaal-v1"


def tables() -> dict[str, pl.DataFrame]:
    ids = OLD + YOUNG + [BOTH]
    return {
        "patients.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "birth_year": [1946] * 3 + [2004] * 3 + [1991],
                "birth_month": [1] * 7,
                "sex": ["V", "M"] * 3 + ["V"],
                "wijk_code": ["WK034405"] * 7,
                "registered_from": [D(2000, 1, 1)] * 7,
            }
        ),
        "episodes.csv": pl.DataFrame(
            {
                "patient_id": OLD + [BOTH, BOTH],
                "icpc": ["H86"] * 4 + ["F94"],
                "start_date": [D(2019, 1, 1)] * 5,
            }
        ),
        "prescriptions.csv": pl.DataFrame(
            {
                "patient_id": [p for p in YOUNG + [BOTH] for _ in range(2)],
                "atc": ["R03AC02"] * 8,
                "prescribed_on": [D(2026, 3, 1), D(2026, 8, 1)] * 4,
                "quantity": [1.0] * 8,
            }
        ),
        "determinations.csv": pl.DataFrame(
            {
                "patient_id": OLD + [BOTH],
                "code": [9001] * 4,
                "measured_on": [D(2015, 1, 1)] * 4,
                "value": ["alleen"] * 4,
            }
        ),
        "contacts.csv": pl.DataFrame(
            {"patient_id": OLD, "contact_on": [D(2026, 5, 1)] * 3, "kind": ["consult"] * 3}
        ),
    }


@pytest.fixture(scope="module")
def ran(tmp_path_factory) -> tuple[OmuHome, dict]:
    tmp = tmp_path_factory.mktemp("two")
    landing = tmp / "landing"
    write_delivery(
        landing / "P0001" / "2026Q3",
        practice_id="P0001",
        quarter="2026Q3",
        extracted_on=D(2026, 10, 4),
        tables=tables(),
        dialect=VENDOR_DIALECTS[0],
    )
    home = OmuHome.resolve(tmp / "home").prepare()
    home.config_file.write_text("profiles:\n  - omu-basis-v1\n  - astma-signaal-v1\n")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("practice", ["P0001"])
    instance.add_dynamic_partitions("quarter", ["2026Q3"])
    resources = {
        "store": DuckDBStore(database=str(home.database)),
        "omu": OmuSettings(home=str(home.root), landing=str(landing)),
    }
    delivery_assets = [ingest_delivery_asset, score_history, first_time_crossers, outreach_list]
    delivery = dg.materialize(
        [*delivery_assets, *checks_for(delivery_assets)],
        partition_key=partition_key("P0001", "2026Q3"),
        instance=instance,
        resources=resources,
    )
    assert delivery.success
    region = dg.materialize(
        [regional_indicators, regional_dashboard, *checks_for([regional_indicators, regional_dashboard])],
        partition_key="2026Q3",
        instance=instance,
        resources=resources,
    )
    assert region.success
    checks = [*delivery.get_asset_check_evaluations(), *region.get_asset_check_evaluations()]
    assert checks and all(check.passed for check in checks)
    return home, {"delivery": delivery, "region": region, "tmp": tmp}


def listed(path: Path) -> set[str]:
    return set(read_outcome_file(path)["patient_id"].drop_nulls().to_list())


def test_each_profile_writes_its_own_lists_the_default_in_todays_place(ran):
    home, _ = ran
    folder = home.practice_out("2026Q3", "P0001")
    assert listed(folder / "baseline.xlsx") | listed(folder / "outreach.xlsx") == set(OLD) | {BOTH}
    asthma = folder / ASTHMA
    assert listed(asthma / "baseline.xlsx") | listed(asthma / "outreach.xlsx") == set(YOUNG) | {BOTH}
    for path in (
        folder / "screening.csv",
        asthma / "screening.csv",
        asthma / "outreach.csv",
        asthma / "outreach.html",
    ):
        assert path.is_file()
    profiles = {row[0] for row in pl.read_csv(asthma / "screening.csv").select("profile_name").rows()}
    assert profiles == {"astma-signaal"}
    sheet = openpyxl.load_workbook(asthma / "outreach.xlsx")["Belijst"]  # first time over in 2026Q3
    headers = [c.value for c in sheet[1]]
    rows = list(sheet.iter_rows(min_row=2, values_only=True))
    assert {r[headers.index("Profiel")] for r in rows} == {"astma-signaal v1"}
    evidence = {r[headers.index("Patiënt (pseudoniem)")]: r[headers.index("Onderbouwing")] for r in rows}
    assert "salbutamol (R03AC02), 2 voorschriften, laatst 01-08-2026" in evidence[YOUNG[0]]
    assert "geen contact in 365 dagen" in evidence[YOUNG[0]]


def test_outcomes_belong_to_the_profile_whose_list_the_file_is(ran):
    home, state = ran
    folder = home.practice_out("2026Q3", "P0001") / ASTHMA
    workbook = openpyxl.load_workbook(folder / "outreach.xlsx")
    sheet = workbook["Belijst"]
    headers = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[headers.index("Patiënt (pseudoniem)")].value == BOTH:
            row[headers.index("Uitkomst")].value = "verwezen"
            row[headers.index("Verwezen naar")].value = "longfysiotherapeut"
    filled = state["tmp"] / "astma-filled.xlsx"
    workbook.save(filled)
    with store.connect(home.database) as conn:
        assert import_outcomes(conn, filled).new == 1
    with duckdb.connect(str(home.database), read_only=True) as conn:
        stored = conn.execute(
            "SELECT patient_id, profile_name, profile_version, referral_target FROM outreach_outcomes"
        ).fetchall()
    assert stored == [(BOTH, "astma-signaal", 1, "longfysiotherapeut")]  # not on omu-basis's list

    # a file without the profile column, for a patient on both profiles' lists: refused
    bare = state["tmp"] / "bare.csv"
    pl.DataFrame(
        {"patient_id": [BOTH], "quarter": ["2026Q3"], "practice_id": ["P0001"], "outcome": ["bereikt"]}
    ).write_csv(bare, separator=";")
    with (
        store.connect(home.database) as conn,
        pytest.raises(OutcomeFileError, match="add the column Profiel"),
    ):
        import_outcomes(conn, bare)


def test_each_profile_has_its_own_regional_indicators_and_dashboard(ran):
    home, _ = ran
    region = home.region_out("2026Q3")
    for folder in (region, region / ASTHMA):
        assert {"indicators.csv", "indicators.xlsx", "dashboard.html"} <= {p.name for p in folder.iterdir()}
    with duckdb.connect(str(home.database), read_only=True) as conn:
        keyed = conn.execute(
            "SELECT DISTINCT profile_name, profile_version FROM indicators ORDER BY 1"
        ).fetchall()
    assert keyed == [("astma-signaal", 1), ("omu-basis", 1)]
    texts = {
        folder: " ".join(
            str(c.value)
            for sheet in openpyxl.load_workbook(folder / "indicators.xlsx").worksheets
            for row in sheet.iter_rows()
            for c in row
        )
        for folder in (region, region / ASTHMA)
    }
    assert "astma-signaal versie 1" in texts[region / ASTHMA] and "astma-signaal" not in texts[region]
