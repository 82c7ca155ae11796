"""Regional dashboards end to end: a generated region run through the Dagster chain once per
session, then the indicators, the privacy of everything under region/, `omu dashboard` and the
page itself in a real headless Chromium with the network blocked."""

from __future__ import annotations

import csv
import time
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from omu import store
from omu.dashboards.indicator_files import for_people
from omu.dashboards.indicators import person_count_columns, read_indicators
from omu.dashboards.page import CHART_IDS
from omu.dashboards.region import file_text, patient_ids_in, write_region
from omu.home import OmuHome
from omu.outreach.outcomes import import_outcomes
from omu.screening.profile import DEFAULT_PROFILE, load_profile
from omu.synthetic import generate

QUARTERS = ["2026Q2", "2026Q3"]
PRACTICES = 4
PROFILE = load_profile(DEFAULT_PROFILE)
OUTCOME_CYCLE = [
    ("bereikt", ""),
    ("verwezen", "buurtteam"),
    ("niet_bereikt", ""),
    ("verwezen", "apotheker"),
    ("bereikt", ""),
    ("al_in_zorg", ""),
    ("verwezen", "valpreventie"),
    ("afgezien", ""),
]


def round5(n: int) -> int:
    return 5 * ((n + 2) // 5)


@pytest.fixture(scope="session")
def region(tmp_path_factory):
    """4 practices (one tiny: 223 patient lines) x 2 quarters through `run_chain`; then outcomes handed
    back for every listed patient and the region written again, as `omu dashboard` does."""
    from omu.pipelines.runner import run_chain

    base = tmp_path_factory.mktemp("region")
    landing = base / "landing"
    started = time.monotonic()
    generate(landing, practices=PRACTICES, quarters=QUARTERS, seed=5, patients=(150, 1500))
    home = OmuHome.resolve(base / "home")
    summary = run_chain(home, landing)
    # (the risk model step belongs to another part of omu: its failure would not stop the region)
    failed = [
        (r.job, r.practice_id, r.quarter, r.message)
        for r in summary.runs
        if not r.success and r.job != "model_job"
    ]
    assert failed == []
    chain_outputs = {q: sorted(p.name for p in home.region_out(q).iterdir()) for q in QUARTERS}
    published = []  # every indicators.csv an analyst could have kept, oldest first
    for quarter in QUARTERS:
        kept = base / "kept" / f"chain-{quarter}.csv"
        kept.parent.mkdir(exist_ok=True)
        kept.write_bytes((home.region_out(quarter) / "indicators.csv").read_bytes())
        published.append(kept)
    with store.connect(home.database) as conn:
        listed = conn.execute(
            "SELECT practice_id, quarter, patient_id FROM outreach_lists "
            "WHERE list_kind = 'outreach' AND listed ORDER BY ALL"
        ).fetchall()
        for practice in sorted(
            {p for p, _, _ in listed}
        ):  # one file per practice, as practices hand them back
            outcome_file = base / f"outcomes-{practice}.csv"
            with outcome_file.open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(["practice_id", "quarter", "patient_id", "outcome", "referral_target"])
                for i, (practice_id, quarter, patient_id) in enumerate(listed):
                    if practice_id == practice:
                        writer.writerow(
                            [practice_id, quarter, patient_id, *OUTCOME_CYCLE[i % len(OUTCOME_CYCLE)]]
                        )
            import_outcomes(conn, outcome_file)
        for quarter in QUARTERS:
            write_region(conn, home, PROFILE, quarter)
            published.append(home.region_out(quarter) / "indicators.csv")
        wide = read_indicators(conn, PROFILE, QUARTERS[-1])
    return {
        "home": home,
        "summary": summary,
        "chain_outputs": chain_outputs,
        "wide": wide,
        "listed": listed,
        "published": published,
        "seconds": time.monotonic() - started,
    }


def test_the_attacker_recovers_nothing_from_every_published_version(region):
    """The independent attacker (tests/attacker.py) on every indicators.csv of the run, the ones
    written before the outcomes came back and the re-publications after."""
    from attacker import attack
    from public_knowledge import KNOWLEDGE

    report = attack(region["published"], KNOWLEDGE)
    assert report.counts_attacked > 100
    assert not report.inconsistencies, report.inconsistencies[:5]
    assert not report.disclosures, [str(d) for d in report.disclosures[:5]]


def region_files(home: OmuHome) -> list[Path]:
    return sorted(p for p in home.out.glob("*/region/**/*") if p.is_file())


def test_the_chain_writes_the_region_for_every_quarter(region):
    runs = [r for r in region["summary"].runs if r.job == "region_job"]
    assert [(r.practice_id, r.quarter, r.success) for r in runs] == [("regio", q, True) for q in QUARTERS]
    for quarter in QUARTERS:
        assert region["chain_outputs"][quarter] == [
            "dashboard.html",
            "evaluation.csv",
            "evaluation.html",
            "indicators.csv",
            "indicators.xlsx",
        ]
    assert (
        region["summary"].outputs["dashboard"] == region["home"].region_out(QUARTERS[-1]) / "dashboard.html"
    )


def test_region_asset_checks_passed(region):
    import dagster as dg

    instance = dg.DagsterInstance.get()
    for check in (
        "no_small_counts_shown",
        "figures_from_published_counts",
        "disclosure_audit_passes",
        "no_patient_id_under_region",
    ):
        asset = "regional_dashboard" if check == "no_patient_id_under_region" else "regional_indicators"
        records = instance.event_log_storage.get_asset_check_execution_history(
            dg.AssetCheckKey(dg.AssetKey(asset), check), limit=10
        )
        assert len(records) >= len(QUARTERS)
        assert all(r.evaluation is not None and r.evaluation.passed for r in records), check


def test_indicators_match_a_hand_count_from_screening(region):
    """Registered and over-threshold per practice, wijk and region, counted here straight from
    the screening view (delivered quarters only), against the stored, suppressed figures."""
    home, wide = region["home"], region["wide"]
    with store.connect(home.database) as conn:
        people = conn.sql(
            "SELECT quarter, practice_id, wijk_code, over_threshold, first_time FROM screening "
            "WHERE NOT backfilled"
        ).pl()
    checked = 0
    for quarter in QUARTERS:
        q = people.filter(pl.col("quarter") == quarter)
        shown = {r["area_code"]: r for r in wide.filter(pl.col("quarter") == quarter).to_dicts()}
        groups = (
            [("REGIO", q)]
            + [(k, f) for (k,), f in q.group_by("practice_id")]
            + [(k, f) for (k,), f in q.group_by("wijk_code")]
        )
        for area, frame in groups:
            registered, over = frame.height, int(frame["over_threshold"].sum())
            row = shown[area]
            if row["registered"] is not None:
                assert row["registered"] == round5(registered), (quarter, area)
            else:
                assert area != "REGIO"
            if row["over_threshold"] is not None:
                assert row["over_threshold"] == round5(over), (quarter, area)
            if row["pct_over"] is not None:
                # from the published (rounded) counts, never the exact ones
                assert row["pct_over"] == pytest.approx(100 * round5(over) / round5(registered))
                checked += 1
            if 1 <= registered <= 7:
                assert row["registered"] is None
            if 1 <= over <= 7:
                assert row["over_threshold"] is None and row["pct_over"] is None
    assert checked >= 6  # the region and the larger practices at least, both quarters
    region_q3 = wide.filter((pl.col("quarter") == QUARTERS[-1]) & (pl.col("level") == "regio")).row(
        0, named=True
    )
    assert region_q3["practices"] == PRACTICES
    assert region_q3["dsr_over"] is not None and region_q3["dsr_over_lower"] < region_q3["dsr_over"]


def test_outreach_funnel_counts_the_handed_back_outcomes(region):
    wide, listed = region["wide"], region["listed"]
    for quarter in QUARTERS:
        n = sum(1 for _, q, _ in listed if q == quarter)
        reached = sum(
            1
            for i, (_, q, _) in enumerate(listed)
            if q == quarter
            and OUTCOME_CYCLE[i % len(OUTCOME_CYCLE)][0] in ("bereikt", "verwezen", "afgezien")
        )
        row = wide.filter((pl.col("quarter") == quarter) & (pl.col("level") == "regio")).row(0, named=True)
        assert row["listed"] == (None if 1 <= n <= 7 else round5(n))
        if row["reached"] is not None:
            assert row["reached"] == round5(reached)
            assert row["pct_reached"] == pytest.approx(100 * reached / n)


def test_no_small_counts_anywhere_under_region(region):
    """The tiny practice and the small wijken: no person count of 1-7 in the table, the csv or
    the xlsx, and every shown count a multiple of 5."""
    home = region["home"]
    counts = person_count_columns(PROFILE)
    with store.connect(home.database) as conn:
        stored = conn.execute(
            "SELECT value FROM indicators WHERE value IS NOT NULL AND indicator IN "
            f"({', '.join('?' * len(counts))})",
            counts,
        ).fetchall()
    values = [v for (v,) in stored]
    assert values and not any(1 <= v <= 7 for v in values) and all(v % 5 == 0 for v in values)
    headers = dict(zip(for_people(region["wide"], PROFILE).columns, region["wide"].columns, strict=True))
    for quarter in QUARTERS:
        folder = home.region_out(quarter)
        frame = pl.read_csv(
            folder / "indicators.csv", separator=";", decimal_comma=True, infer_schema_length=0
        )
        assert set(frame.columns) == set(headers)
        xlsx = pl.read_excel(folder / "indicators.xlsx", sheet_name="Indicatoren", engine="openpyxl")
        assert xlsx.height == frame.height
        for header, key in headers.items():
            if key not in counts:
                continue
            for source in (
                frame.get_column(header).cast(pl.Int64, strict=False),
                xlsx.get_column(header).cast(pl.Int64, strict=False),
            ):
                shown = source.drop_nulls()
                assert not ((shown >= 1) & (shown <= 7)).any(), (quarter, header)
                assert (shown % 5 == 0).all(), (quarter, header)
    hidden = region["wide"].select(counts).null_count().sum_horizontal().item()
    assert hidden > 0  # the small wijken and the tiny practice did need suppression


def test_no_patient_id_under_region(region):
    home = region["home"]
    with store.connect(home.database) as conn:
        ids = [p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history").fetchall()]
    assert len(ids) > 1000
    files = region_files(home)
    assert len(files) == 5 * len(QUARTERS)  # dashboard, indicators csv/xlsx, evaluation csv/html
    assert patient_ids_in(home.out / QUARTERS[0] / "region", ids) == {}
    assert patient_ids_in(home.out / QUARTERS[1] / "region", ids) == {}
    # an independent, plain search in the small files (the page holds the 4.8 MB plotly library:
    # there the scanner above is used, which is checked to find a planted id just below)
    for path in files:
        if path.suffix != ".html":
            text = file_text(path)
            assert not any(p in text for p in ids), path
    assert (
        "patient"
        not in (home.region_out(QUARTERS[-1]) / "indicators.csv").read_text(encoding="utf-8-sig").lower()
    )


def test_the_patient_id_scanner_finds_a_planted_id(tmp_path, region):
    with store.connect(region["home"].database) as conn:
        ids = [
            p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM score_history LIMIT 50").fetchall()
        ]
    page = (region["home"].region_out(QUARTERS[-1]) / "dashboard.html").read_text(encoding="utf-8")
    (tmp_path / "dashboard.html").write_text(
        page.replace("</footer>", f"x{ids[7]}y</footer>"), encoding="utf-8"
    )
    assert patient_ids_in(tmp_path, ids) == {str(tmp_path / "dashboard.html"): {ids[7]}}


def test_omu_dashboard_command(region):
    from omu.pipelines.cli import app

    home = region["home"]
    result = CliRunner().invoke(app, ["dashboard", "--home", str(home.root), "--quarter", "2026q3"])
    assert result.exit_code == 0, result.output
    assert "dashboard.html" in result.output and "99.8%" in result.output
    refused = CliRunner().invoke(app, ["dashboard", "--home", str(home.root), "--quarter", "2024Q1"])
    assert refused.exit_code == 1
    assert "no practice delivered 2024Q1" in refused.output
    assert "2026Q2, 2026Q3" in refused.output


@pytest.mark.browser
def test_dashboard_in_chromium_offline(region, browser, artifacts):
    """Real headless Chromium, every request except the file itself refused and recorded."""
    path = region["home"].region_out(QUARTERS[-1]) / "dashboard.html"
    url = path.resolve().as_uri()
    page = browser.new_page(viewport={"width": 1280, "height": 900}, device_scale_factor=1)
    attempted, problems = [], []
    page.on(
        "console",
        lambda m: problems.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: problems.append(f"pageerror: {e}"))

    def route(r):
        if r.request.url == url:
            r.continue_()
        else:
            attempted.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.goto(url, wait_until="load")
    page.wait_for_function(
        f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(CHART_IDS)}"
    )
    page.wait_for_timeout(300)
    assert attempted == [], attempted
    assert problems == [], problems
    plots = page.locator(".js-plotly-plot")
    assert plots.count() == len(CHART_IDS)
    for chart_id in CHART_IDS:
        chart = page.locator(f"#{chart_id}")
        assert chart.locator("svg.main-svg").count() >= 1, chart_id
        box = chart.bounding_box()
        assert box and box["height"] > 150 and box["width"] > 600, chart_id
        # something is drawn in it: markers, lines, bars or heatmap cells
        drawn = chart.locator("path.point, path.js-line, g.trace path, image, g.hm image").count()
        assert drawn > 0, chart_id
    text = page.inner_text("body")
    assert "Hoogste leeftijdsgestandaardiseerde aandeel" in text or "Voor geen enkele wijk" in text
    assert "99,8%-grenzen" in text
    assert "omu-basis versie 1" in text and "niet getoond" in text.lower()
    assert page.locator("#tabel-cijfers tbody tr").count() >= 1 + 10 + PRACTICES
    page.screenshot(path=str(artifacts / "dashboard-region.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 1100})
    page.screenshot(path=str(artifacts / "dashboard-region-top.png"))
    page.close()
