"""The omu command line. Exit codes: 0 success, 1 refused or failed, 2 usage error."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, TypedDict

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omu.home import OmuHome, disable_analytics
from omu.resources import SAMPLE_LANDING

disable_analytics()

app = typer.Typer(
    name="omu",
    help="Population-health screening for Dutch general practice: HIS extracts -> first-time risk "
    "crossers -> outreach lists and regional dashboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


class State:
    quiet = False


state = State()
console = Console(stderr=False, highlight=False, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home", help="The omu home (store, outputs, Dagster storage). Default: $OMU_HOME or ./omu-home."
    ),
]
ProfileOption = Annotated[
    Path | None,
    typer.Option("--profile", help="A screening profile YAML. Default: clinical/profiles/omu-basis-v1.yaml."),
]


def say(message: str = "") -> None:
    """Progress and detail: silent under --quiet."""
    if not state.quiet:
        console.print(message)


def result(message: str) -> None:
    """The command's result: printed even under --quiet."""
    console.print(message)


def fail(message: str) -> typer.Exit:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {escape(message)}")
    return typer.Exit(code=1)


def practice_id_option(value: str | None) -> str | None:
    """--practice is checked against the contract's practice-id pattern before it reaches a path."""
    from omu.contract import PracticeIdError, checked_practice_id

    if value is None:
        return None
    try:
        return checked_practice_id(value, "--practice")
    except PracticeIdError as error:
        raise typer.BadParameter(str(error)) from None


def chosen_profile(profile: Path | None) -> Path:
    """--profile, else $OMU_PROFILE, else the default omu-basis v1."""
    from omu.screening.profile import DEFAULT_PROFILE

    return Path(profile or os.environ.get("OMU_PROFILE") or DEFAULT_PROFILE)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=state.quiet,
        transient=False,
    )


@app.callback()
def main_options(
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only errors and the final result.")
    ] = False,
) -> None:
    state.quiet = quiet


@app.command()
def generate(
    out: Annotated[
        Path, typer.Option("--out", help="Landing folder to write: <out>/<practice_id>/<quarter>/.")
    ],
    practices: Annotated[int, typer.Option("--practices", min=1, help="Number of practices.")] = 3,
    quarters: Annotated[
        str, typer.Option("--quarters", help="Quarter or range, e.g. 2025Q3:2026Q3.")
    ] = "2026Q2:2026Q3",
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 1,
    patients: Annotated[str, typer.Option("--patients", help="Practice size range MIN:MAX.")] = "2000:12000",
    truth: Annotated[
        Path | None,
        typer.Option("--truth", help="Also write the ground truth here (outside the landing folder)."),
    ] = None,
    outcomes: Annotated[
        Path | None,
        typer.Option(
            "--outcomes",
            help="Simulate the outreach loop and write the "
            "POH's outcome files here (outside the landing folder).",
        ),
    ] = None,
    reach_probability: Annotated[
        float,
        typer.Option(
            "--reach-probability",
            min=0.0,
            max=1.0,
            help="With --outcomes: chance a listed patient is reached.",
        ),
    ] = 0.6,
    hazard_ratio: Annotated[
        float,
        typer.Option(
            "--hazard-ratio", min=0.01, help="With --outcomes: effect of being reached on unplanned care."
        ),
    ] = 0.8,
) -> None:
    """Generate synthetic Utrecht HIS deliveries (never real patients)."""
    from omu.quarters import quarter_range
    from omu.synthetic import OutreachLoop
    from omu.synthetic import generate as run_generator

    try:
        quarter_list = quarter_range(quarters)
        low, _, high = patients.partition(":")
        size = (int(low), int(high or low))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    if size[0] < 1 or size[1] < size[0]:
        raise typer.BadParameter("--patients must be MIN:MAX with 1 <= MIN <= MAX")
    if truth is not None and truth.resolve().is_relative_to(out.resolve()):
        raise typer.BadParameter("--truth must lie outside the landing folder --out")
    if outcomes is not None and outcomes.resolve().is_relative_to(out.resolve()):
        raise typer.BadParameter("--outcomes must lie outside the landing folder --out")
    loop = OutreachLoop(reach_probability, hazard_ratio) if outcomes is not None else None
    with progress() as bar:
        task = bar.add_task("generating practices", total=practices)
        summary = run_generator(
            out,
            practices=practices,
            quarters=quarter_list,
            seed=seed,
            patients=size,
            truth_dir=truth,
            progress=lambda _: bar.advance(task),
            outreach=loop,
            outcomes_dir=outcomes,
        )
    result(f"wrote {summary.deliveries} deliveries for {practices} practices to {out}")
    if truth is not None:
        say(f"ground truth in {truth}")
    if outcomes is not None:
        say(
            f"outreach outcomes (reach {reach_probability}, hazard ratio {hazard_ratio}) in {outcomes}: "
            "import each with omu outcomes import after its quarter's run"
        )


@app.command()
def validate(
    delivery_dir: Annotated[Path, typer.Argument(help="One delivery: landing/<practice_id>/<quarter>/.")],
    home: HomeOption = None,
) -> None:
    """Check a delivery without loading it: accepted or refused, and rows to be quarantined.

    Exit 0 when it would load, 1 when refused. With --home (or $OMU_HOME holding a store) the
    pseudonym key is also compared with the practice's earlier deliveries."""
    import tempfile

    from omu import store
    from omu.ingest.delivery import check_delivery, delivery_location
    from omu.ingest.load import store_facts
    from omu.ingest.report import render_report

    if not delivery_dir.is_dir():
        raise typer.BadParameter(f"{delivery_dir} is not a folder")
    previous_key = None
    omu_home = OmuHome.resolve(home) if (home or os.environ.get("OMU_HOME")) else None
    from omu.contract import PracticeIdError

    try:
        practice_id, quarter = delivery_location(delivery_dir.resolve())
    except PracticeIdError as error:
        raise fail(str(error)) from None
    if omu_home and omu_home.database.exists() and practice_id and quarter:
        with store.connect(omu_home.database) as conn:
            previous_key = store_facts(conn, practice_id, quarter)[1]
    with tempfile.TemporaryDirectory(prefix="omu-validate-") as stage:
        check = check_delivery(delivery_dir.resolve(), Path(stage) / "stage", previous_key_id=previous_key)
    if state.quiet:
        result(f"{delivery_dir}: {'accepted' if check.accepted else 'refused'}")
    else:
        console.print(render_report(check), markup=False)
    if not check.accepted:
        raise typer.Exit(code=1)


@app.command()
def run(
    landing: Annotated[
        Path, typer.Option("--landing", help="The landing folder: <landing>/<practice_id>/<quarter>/.")
    ],
    home: HomeOption = None,
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="Only this quarter (default: all found, oldest first).")
    ] = None,
    profile: ProfileOption = None,
    wait: Annotated[
        bool,
        typer.Option("--wait", help="When another omu run holds this home, wait for it instead of refusing."),
    ] = False,
) -> None:
    """Run the quarter(s) in the landing folder once, without a daemon: the runs the daemon would
    request (landing sensor, then the chain: model, lists, region), executed two at a time.
    One omu run per home at a time: a second is refused (naming the first) or, with --wait, waits."""
    summary = _run(OmuHome.resolve(home), landing, quarter, profile, wait=wait)
    if not summary.success:
        raise typer.Exit(code=1)


def _run(home: OmuHome, landing: Path, quarter: str | None, profile: Path | None, *, wait: bool = False):
    from omu.home import HomeBusy, run_lock

    try:
        with run_lock(home, wait=wait, on_wait=lambda holder: say(f"waiting for {holder} to finish")):
            return _run_locked(home, landing, quarter, profile)
    except HomeBusy as error:
        raise fail(str(error)) from None


def _run_locked(home: OmuHome, landing: Path, quarter: str | None, profile: Path | None):
    from omu.pipelines.runner import run_chain, select_deliveries, step_count
    from omu.screening.profile import ProfileError, load_profile

    if not landing.is_dir():
        raise fail(f"no landing folder at {landing}")
    from omu.config import ConfigError, load_config
    from omu.screening.profile import load_profiles

    # --profile (or $OMU_PROFILE) runs that profile alone; otherwise config.yaml's profiles
    profile = profile or (Path(os.environ["OMU_PROFILE"]) if os.environ.get("OMU_PROFILE") else None)
    try:  # a broken profile (or config) is refused before any run starts
        if profile:
            load_profile(profile)
        else:
            load_profiles(load_config(home.config_file).profiles, base=home.root)
    except (ProfileError, ConfigError) as error:
        raise fail(f"profile refused: {error}") from error
    if quarter:
        from omu.quarters import Quarter

        try:
            Quarter.parse(quarter)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
    from omu.pipelines.sensors import landing_problems

    for problem in landing_problems(landing):
        Console(stderr=True, highlight=False).print(f"[bold yellow]warning:[/] {escape(problem)}")
    if not select_deliveries(landing, quarter):
        raise fail(
            f"no deliveries (<practice_id>/<quarter>/manifest.json) in {landing}"
            + (f" for {quarter}" if quarter else "")
        )
    with progress() as bar:
        task = bar.add_task(
            "starting", total=step_count(landing, quarter, load_config(home.config_file).workers)
        )
        started: list[str] = []

        def step(description: str) -> None:
            if started:
                bar.advance(task)
            started.append(description)
            bar.update(task, description=description)

        summary = run_chain(
            home, landing, quarter=quarter, profile=str(profile) if profile else None, on_step=step
        )
        bar.update(task, completed=bar.tasks[0].total, description="done")
    _print_summary(summary)
    return summary


def _print_summary(summary) -> None:
    table = Table(title="omu run", show_lines=False)
    for column in ("practice", "quarter", "step", "result", "Dagster run"):
        table.add_column(column)
    for outcome in summary.runs:
        verdict = "[green]ok[/]" if outcome.success else "[red]failed[/]"
        table.add_row(outcome.practice_id, outcome.quarter, outcome.job, verdict, outcome.run_id[:8])
    if not state.quiet:
        console.print(table)
    for outcome in summary.runs:
        if not outcome.success:
            Console(stderr=True).print(
                f"[bold red]{outcome.practice_id} {outcome.quarter}:[/] {outcome.message}",
                markup=True,
                highlight=False,
            )
    home = summary.home
    say(f"\nstore:           {home.database}")
    quarters = sorted({o.quarter for o in summary.runs if o.quarter and o.success})
    if quarters:
        latest = home.quarter_out(quarters[-1])
        practices = sorted(
            {p for o in summary.runs if o.quarter == quarters[-1] and o.success for p in o.practices}
        )
        say(
            f"delivery reports: {latest / 'deliveries' / '<practice>' / 'report.md'} ({', '.join(practices)})"
        )
        say(f"outreach lists:  {latest / 'practices' / '<practice>' / 'outreach.xlsx'} (also .csv, .html)")
        say(f"                 other profiles: {latest / 'practices' / '<practice>' / '<name>-v<version>'}/")
        say(f"feedback:        {latest / 'practices' / '<practice>' / 'feedback.html'}")
    for label, path in summary.outputs.items():
        say(f"{label + ':':<16} {path}")
    say(f"all outputs:     {home.out}")
    failed = sum(not outcome.success for outcome in summary.runs)
    if not summary.runs:
        result(f"omu run: nothing new to run ({summary.waiting}); outputs in {home.out}")
        return
    result(
        f"omu run: {len(summary.runs) - failed} of {len(summary.runs)} Dagster runs succeeded; outputs in {home.out}"
    )


class DemoRegion(TypedDict):
    practices: int
    quarters: str
    patients: tuple[int, int]
    seed: int


DEMO_REGION: DemoRegion = {
    "practices": 10,
    "quarters": "2025Q4:2026Q3",
    "patients": (2000, 4000),
    "seed": 2026,
}


@app.command()
def demo(
    home: HomeOption = None,
    sample: Annotated[
        bool,
        typer.Option(
            "--sample",
            help="Use the three small committed practices in "
            "sample_data/ instead (seconds, but nearly empty lists).",
        ),
    ] = False,
) -> None:
    """Show the product: a small region (10 practices of 2,000-4,000 patients, 4 quarters, synthetic,
    fixed seed) generated into <home>/demo-landing/ and run through the whole chain; then what to open first."""
    omu_home = OmuHome.resolve(home)
    if sample:
        landing = SAMPLE_LANDING
        say(f"omu demo: sample deliveries from {SAMPLE_LANDING}")
    else:
        landing = _demo_landing(omu_home)
    summary = _run(omu_home, landing, None, None)
    _demo_closing(summary, landing)
    if not summary.success:
        raise typer.Exit(code=1)


def _demo_landing(omu_home: OmuHome) -> Path:
    """The demo region's deliveries, generated once per home (the same files for the same seed)."""
    import json

    from omu.quarters import quarter_range
    from omu.synthetic import generate as run_generator

    landing = omu_home.root / "demo-landing"
    marker = landing / "demo.json"
    wanted = json.dumps({**DEMO_REGION, "patients": list(DEMO_REGION["patients"])}, sort_keys=True)
    if marker.is_file() and marker.read_text() == wanted:
        say(f"omu demo: the demo region's deliveries are in {landing}")
        return landing
    region = DEMO_REGION
    say(
        f"omu demo: generating a synthetic region of {region['practices']} practices "
        f"({region['patients'][0]:,}-{region['patients'][1]:,} patients) over {region['quarters']} into {landing}"
    )
    with progress() as bar:
        task = bar.add_task("generating practices", total=region["practices"])
        run_generator(
            landing,
            practices=region["practices"],
            quarters=quarter_range(region["quarters"]),
            seed=region["seed"],
            patients=region["patients"],
            progress=lambda _: bar.advance(task),
        )
    from omu.file_writing import write_text_atomically

    write_text_atomically(marker, wanted)
    return landing


def _demo_closing(summary, landing: Path) -> None:
    """What to open first: the dashboard, then the fullest list of the newest quarter, then the model."""
    import json

    from omu import store
    from omu.sql import fetch_one

    home = summary.home
    if not home.database.exists():
        return
    with store.connect(home.database) as conn:
        (latest,) = fetch_one(conn, "SELECT max(quarter) FROM outreach_lists") or (None,)
        if latest is None:
            return
        per_practice = conn.execute(
            "SELECT practice_id, count(*) FILTER (WHERE listed) FROM outreach_lists "
            "WHERE quarter = ? AND list_kind = 'outreach' GROUP BY ALL ORDER BY 2 DESC, 1",
            [latest],
        ).fetchall()
        shown = conn.execute(  # wijken whose share over the threshold is shown (not suppressed)
            "SELECT count(DISTINCT area_code) FILTER (WHERE value IS NOT NULL), count(DISTINCT area_code) "
            "FROM indicators WHERE quarter = ? AND level = 'wijk' AND indicator = 'pct_over'",
            [latest],
        ).fetchone()
    say("")
    say(f"[bold]What to open first[/] (newest quarter {latest}):")
    say(
        f"1. the regional dashboard: {home.region_out(latest) / 'dashboard.html'}"
        + (f" (figures shown for {shown[0]} of {shown[1]} wijken)" if shown and shown[1] else "")
    )
    if per_practice:
        fullest, people = per_practice[0]
        empty = [p for p, n in per_practice if not n]
        say(
            f"2. an outreach list, e.g. {fullest}'s ({people} people): "
            f"{home.practice_out(latest, fullest) / 'outreach.xlsx'}"
        )
        say(
            f"   every practice's list: {', '.join(f'{p} {n}' for p, n in per_practice)}"
            + (f" (empty: {', '.join(empty)})" if empty else "")
        )
    model = summary.outputs.get("risk model")
    held_out = {}
    if model and (model / "model.json").is_file():
        held_out = json.loads((model / "model.json").read_text(encoding="utf-8")).get("held_out", {})
    say(
        "3. how the risk model orders the lists: `omu model report"
        + (f" --home {home.root}`" if home.root != OmuHome.resolve().root else "`")
        + (
            f" (on held-out practices: AUC {held_out['auc_model']:.2f} for the model, "
            f"{held_out['auc_score']:.2f} for the points score)"
            if "auc_model" in held_out
            else f" (model in {model})"
            if model
            else " (no model was trained: lists in score order)"
        )
    )
    say(f"4. the Dagster UI on this home: `omu ui --home {home.root} --landing {landing}`")


@app.command()
def explain(
    patient_id: Annotated[str, typer.Argument(help="The pseudonymous patient_id.")],
    practice: Annotated[
        str, typer.Option("--practice", help="Practice id, e.g. P0001.", callback=practice_id_option)
    ],
    quarter: Annotated[str, typer.Option("--quarter", help="Quarter, e.g. 2026Q3.")],
    home: HomeOption = None,
    profile: ProfileOption = None,
) -> None:
    """Show why a patient scored as they did: each characteristic with the records behind it."""
    import polars as pl

    from omu import audit, store
    from omu.screening.explain import NotScreened
    from omu.screening.explain import explain as explain_patient
    from omu.screening.profile import load_profile

    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    loaded_profile = load_profile(chosen_profile(profile))
    with store.connect(omu_home.database) as conn:
        try:
            result = explain_patient(
                conn, loaded_profile, practice_id=practice, quarter=quarter, patient_id=patient_id
            )
        except NotScreened as error:
            raise fail(str(error)) from error
        try:  # no access log entry, nothing shown
            audit.record(
                conn, "explain", practice_id=practice, quarter=quarter, patients=1, patient_id=patient_id
            )
        except audit.AuditError as error:
            raise fail(str(error)) from None
    row = result.screening
    console.print(
        f"[bold]{patient_id}[/] — practice {practice}, {quarter} (reference date {row['reference_date']}), "
        f"profile {loaded_profile.name} v{loaded_profile.version}; computed from the {row['source_quarter']} delivery"
        + (" (backfill)" if row["backfilled"] else "")
    )
    console.print(f"age {row['age']}, sex {row['sex']}, wijk {row['wijk_code']}")
    for characteristic in loaded_profile.characteristics:
        holds = row.get(characteristic.id)
        mark = "[green]yes[/]" if holds else "[dim]no[/]"
        points = (
            "note, not scored"
            if not characteristic.scored
            else f"+{characteristic.weight}"
            if holds
            else "0 points"
        )
        console.print(f"\n{mark} {characteristic.id} ({characteristic.label}): {points}")
        for number, criterion in enumerate(characteristic.criteria, start=1):
            console.print(f"  {criterion.describe()}", markup=False)
            # the records the criterion counted (an either_of's criteria are numbered 100 x number + k)
            numbers = pl.col("criterion_no").is_in([number, *range(100 * number + 1, 100 * number + 100)])
            evidence = result.evidence.filter((pl.col("characteristic") == characteristic.id) & numbers)
            if evidence.is_empty():
                console.print(
                    "    no record counted" + (" (it holds by being absent)" if criterion.absent else ""),
                    markup=False,
                )
            for item in evidence.iter_rows(named=True):
                when = f" {item['date']}" if item["date"] else ""
                until = (
                    f" until {item['until']}"
                    if item["until"]
                    else (" (still open)" if item["record"] == "episode" else "")
                )
                detail = (
                    f" = {item['value']}"
                    if item["value"]
                    else (f", quantity {item['quantity']:g}" if item["quantity"] is not None else "")
                )
                console.print(
                    f"    {item['record']} {item['code']}{detail}{when}{until} -> counts", markup=False
                )
    verdict = "at or over" if row["over_threshold"] else "below"
    console.print(
        f"\n[bold]score {row['score']}[/] ({verdict} the threshold {loaded_profile.threshold}); "
        f"first time over: {'yes' if row['first_time'] else 'no'}"
        + (f"; first crossed in {row['first_crossed_quarter']}" if row["first_crossed_quarter"] else "")
    )


@app.command()
def dashboard(
    quarter: Annotated[str, typer.Option("--quarter", help="Quarter, e.g. 2026Q3.")],
    home: HomeOption = None,
    profile: ProfileOption = None,
) -> None:
    """Write the regional dashboard of a quarter: out/<quarter>/region/dashboard.html, indicators.csv/.xlsx.

    Recomputes the (suppressed) indicators of every delivered quarter up to QUARTER from the store
    first, so the trend and late outreach outcomes are current."""
    from omu import audit, store
    from omu.config import load_config
    from omu.dashboards.indicators import NotDelivered
    from omu.dashboards.region import write_region
    from omu.evaluation.outcome import write_region_evaluation
    from omu.models.outcome import load_outcome
    from omu.quarters import Quarter
    from omu.screening.profile import ProfileError, load_profile

    try:
        wanted = str(Quarter.parse(quarter))
    except ValueError as error:
        raise typer.BadParameter(str(error)) from error
    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    try:
        loaded_profile = load_profile(chosen_profile(profile))
    except ProfileError as error:
        raise fail(f"profile refused: {error}") from error
    with store.connect(omu_home.database) as conn:
        try:  # no access log entry, no regional files
            audit.record(
                conn,
                "dashboard_written",
                quarter=wanted,
                patients=audit.patients_screened(conn, wanted),
                detail="omu dashboard: dashboard.html, indicators.csv, indicators.xlsx",
            )
            outputs = write_region(conn, omu_home, loaded_profile, wanted)
        except NotDelivered as error:
            raise fail(str(error)) from error
        except audit.AuditError as error:
            raise fail(str(error)) from None
        # the outcome-after-outreach section belongs on the page as the region step puts it there
        _, evaluation_files, _ = write_region_evaluation(
            conn,
            omu_home.region_out(wanted),
            loaded_profile,
            load_outcome(),
            wanted,
            load_config(omu_home.config_file).capacity_for,
        )
        outputs.files = {**outputs.files, **evaluation_files}
    say(
        f"regional dashboard {wanted} (profile {loaded_profile.name} v{loaded_profile.version}; "
        f"quarters {', '.join(outputs.quarters)})"
    )
    say(f"highest age-standardised share over the threshold: {outputs.highest_wijk or 'no wijk shown'}")
    say(f"practices outside the 99.8% funnel limits: {', '.join(outputs.outside_998) or 'none'}")
    for name, path in outputs.files.items():
        say(f"{name + ':':<17} {path}")


model_app = typer.Typer(
    name="model", help="The risk model that orders the outreach lists.", no_args_is_help=True
)
app.add_typer(model_app, name="model")


@model_app.command("report")
def model_report(
    home: HomeOption = None,
    truth: Annotated[
        Path | None,
        typer.Option(
            "--truth",
            help="The generator's truth folder (generated data only): compare with the true probabilities.",
        ),
    ] = None,
    version: Annotated[
        str | None, typer.Option("--version", help="A saved model version (default: the latest).")
    ] = None,
) -> None:
    """Evaluate the saved risk model on its held-out practices: out/model/report.html and report.json."""
    from omu.models.report import ReportError, write_report

    omu_home = OmuHome.resolve(home)
    if truth is not None and not truth.is_dir():
        raise typer.BadParameter(f"{truth} is not a folder")
    try:
        paths = write_report(omu_home, truth_dir=truth, version=version)
    except ReportError as error:
        raise fail(str(error)) from error
    say(paths.report["summary"])
    say(f"report:          {paths.html}")
    say(f"metrics (JSON):  {paths.json}")


LandingOption = Annotated[
    Path | None,
    typer.Option(
        "--landing",
        help="The landing folder the sensor watches (default: $OMU_LANDING, else sample_data/landing).",
    ),
]
PortOption = Annotated[int, typer.Option("--port", help="Port of the web UI.")]
HostOption = Annotated[
    str, typer.Option("--host", help="Address the web UI listens on (127.0.0.1: this machine only).")
]


@app.command()
def serve(
    home: HomeOption = None,
    landing: LandingOption = None,
    port: PortOption = 3000,
    host: HostOption = "127.0.0.1",
) -> None:
    """Run omu unattended: dagster-daemon and dagster-webserver on this omu home and landing folder.

    The landing, chain and alert sensors are on: a delivery dropped in the landing folder is
    ingested, screened, listed and shown on the regional dashboard without any command. Stops
    cleanly, every process, on SIGTERM or Ctrl-C (docs/operations.md runs it as a service)."""
    from omu import audit, store
    from omu.pipelines.serve import (
        dagster_environment,
        fail_interrupted_runs,
        initialise_instance,
        serve_commands,
        supervise,
    )

    omu_home = OmuHome.resolve(home).prepare()
    initialise_instance(omu_home)
    interrupted = fail_interrupted_runs(omu_home)
    if interrupted:
        say(
            f"{interrupted} run(s) interrupted by the last stop marked failed; the daemon re-executes them once"
        )
    chosen = (landing or Path(os.environ.get("OMU_LANDING") or SAMPLE_LANDING)).resolve()
    if not chosen.is_dir():
        raise fail(f"no landing folder at {chosen}")
    with store.connect(omu_home.database) as conn:
        try:  # no access log entry, no UI and no unattended runs
            audit.record(conn, "ui_started", detail=f"omu serve (daemon + webserver) on {host}:{port}")
        except audit.AuditError as error:
            raise fail(str(error)) from None
    say(
        f"omu serve: home {omu_home.root}, landing {chosen}; UI on http://{host}:{port}; "
        f"alerts in {omu_home.root / 'alerts'}; stop with Ctrl-C or SIGTERM"
    )
    code = supervise(
        serve_commands(host, port),
        dagster_environment(omu_home, chosen, automation=True),
        omu_home.root,
        say=say,
    )  # cwd: the omu home, so no other dagster.yaml is in view
    raise typer.Exit(code=code)


@app.command()
def ui(
    home: HomeOption = None,
    landing: LandingOption = None,
    port: PortOption = 3000,
) -> None:
    """Open Dagster's UI (`dagster dev`) on this omu home: assets, checks, runs, the sensors and the schedules.

    For looking and launching by hand; the sensors start switched off (`omu serve` runs them)."""
    from omu import audit, store
    from omu.pipelines.serve import dagster_environment, initialise_instance, supervise, ui_commands

    omu_home = OmuHome.resolve(home).prepare()
    initialise_instance(omu_home)
    chosen = landing or Path(os.environ.get("OMU_LANDING") or SAMPLE_LANDING)
    with store.connect(omu_home.database) as conn:
        try:  # no access log entry, no UI
            audit.record(conn, "ui_started", detail=f"dagster dev on 127.0.0.1:{port}")
        except audit.AuditError as error:
            raise fail(str(error)) from None
    say(f"Dagster UI on http://127.0.0.1:{port} (home {omu_home.root}, landing {chosen}); stop with Ctrl-C")
    code = supervise(
        ui_commands("127.0.0.1", port),
        dagster_environment(omu_home, chosen, automation=False),
        omu_home.root,
        say=say,
    )
    raise typer.Exit(code=code)


@app.command("audit")
def audit_log(
    home: HomeOption = None,
    practice: Annotated[
        str | None,
        typer.Option("--practice", help="Only entries of this practice.", callback=practice_id_option),
    ] = None,
    since: Annotated[
        str | None, typer.Option("--since", help="Only entries from this date (YYYY-MM-DD, UTC) on.")
    ] = None,
) -> None:
    """Show the access log: who ran, wrote, imported or explained which patients' data, and when.

    Exit 1 when the log's chain of hashes shows an entry was changed or removed afterwards, or
    the table and its copy <home>/audit/access-log.jsonl disagree."""
    import datetime as dt

    from omu import audit, store

    try:
        from_date = dt.date.fromisoformat(since) if since else None
    except ValueError as error:
        raise typer.BadParameter(f"--since must be a date YYYY-MM-DD, not {since!r}") from error
    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        result(f"no store at {omu_home.database}: nothing has been logged there")
        return
    with store.connect(omu_home.database) as conn:
        everything = audit.read(conn)
        shown = (
            audit.read(conn, practice_id=practice, since=from_date) if (practice or from_date) else everything
        )
    table = Table(title=f"omu access log ({omu_home.root})")
    for column in (
        "#",
        "when (UTC)",
        "who",
        "action",
        "practice",
        "quarter",
        "patients",
        "pseudonym",
        "detail",
    ):
        table.add_column(column, no_wrap=column != "detail")
    for entry in shown:
        table.add_row(
            str(entry["entry_no"]),
            f"{entry['logged_at']:%Y-%m-%d %H:%M:%S}",
            f"{entry['os_user']}@{entry['host']}",
            entry["action"],
            entry["practice_id"] or "",
            entry["quarter"] or "",
            "" if entry["patients"] is None else str(entry["patients"]),
            entry["patient_id"] or "",
            escape(entry["detail"] or ""),
        )
    # a log is read whole: wide enough for every column, also when piped to a file
    Console(highlight=False, soft_wrap=True, width=max(console.width, 200)).print(table)
    problems = audit.verify(everything) + audit.compare_copy(everything, audit.log_file(omu_home.root))
    if problems:
        for problem in problems:
            Console(stderr=True, highlight=False).print(f"[bold red]access log:[/] {escape(problem)}")
        raise fail(
            f"the access log is not intact ({len(problems)} problem(s)); copy: {audit.log_file(omu_home.root)}"
        )
    result(
        f"{len(shown)} of {len(everything)} entries shown; the log is intact (chain of {len(everything)} "
        f"hashes checked); copy: {audit.log_file(omu_home.root)}"
    )


@app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}
)
def bench(ctx: typer.Context) -> None:
    """Benchmarks: time every stage at --scale sample|city|national (all options: omu bench --help).

    The same as `python -m benchmarks`; writes benchmarks/results/<name>.json and .md."""
    try:
        from benchmarks.run import main as run_benchmark
    except ModuleNotFoundError as error:
        if error.name != "benchmarks":
            raise
        raise fail(
            "omu bench runs in a checkout of omu's repository: benchmarks/ is not installed with the package"
        ) from None

    run_benchmark(list(ctx.args))


outcomes_app = typer.Typer(
    name="outcomes", help="Outcomes of the outreach calls, handed back by the practice.", no_args_is_help=True
)
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def outcomes_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="The filled-in outreach.xlsx, or a CSV with patient_id, quarter, "
            "outcome, referral_target, date, note (and practice_id)."
        ),
    ],
    home: HomeOption = None,
    practice: Annotated[
        str | None,
        typer.Option(
            "--practice",
            help="The practice the file belongs to (needed when the file has no practice column).",
            callback=practice_id_option,
        ),
    ] = None,
    quarter: Annotated[
        str | None, typer.Option("--quarter", help="The list's quarter, for a file without a quarter column.")
    ] = None,
) -> None:
    """Import outcomes; one bad row refuses the whole file. Importing the same file twice changes nothing."""
    from omu import audit, store
    from omu.outreach.outcomes import OutcomeFileError, import_outcomes

    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    with store.connect(omu_home.database) as conn:
        try:
            summary = import_outcomes(conn, file, practice=practice, quarter=quarter)
        except OutcomeFileError as error:
            raise fail(str(error)) from error
        except audit.AuditError as error:
            raise fail(str(error)) from None
    result(
        f"{file.name}: {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged outcome(s); "
        f"{summary.skipped_blank} row(s) without an outcome skipped; {summary.followups} referral follow-up(s) "
        "new or changed. They shape next quarter's list "
        "(run `omu run` for it)."
    )


exclusions_app = typer.Typer(
    name="exclusions", help="The GP's exclusions: patients kept off the outreach lists.", no_args_is_help=True
)
app.add_typer(exclusions_app, name="exclusions")


@exclusions_app.command("import")
def exclusions_import(
    file: Annotated[
        Path,
        typer.Argument(
            help="An exclusions CSV/xlsx (patient_id, exclusion, exclusion_until, "
            "practice_id) or the list's outreach.xlsx with column Uitsluiten filled in."
        ),
    ],
    by: Annotated[
        str, typer.Option("--by", help="Who excludes (the GP, or on the GP's behalf); kept in the store.")
    ],
    home: HomeOption = None,
    practice: Annotated[
        str | None,
        typer.Option(
            "--practice",
            help="The practice the file belongs to (needed when the file has no practice column).",
            callback=practice_id_option,
        ),
    ] = None,
) -> None:
    """Import exclusions: palliatief, niet_benaderen, bezwaar (not screened at all), tijdelijk (with an end
    date), or opgeheven to lift one. One bad row refuses the whole file; importing it twice changes nothing."""
    from omu import store
    from omu.outreach.exclusions import ExclusionFileError, import_exclusions

    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    with store.connect(omu_home.database) as conn:
        try:
            summary = import_exclusions(conn, file, recorded_by=by, practice=practice)
        except ExclusionFileError as error:
            raise fail(str(error)) from error
    result(
        f"{file.name}: {summary.changed} exclusion(s) recorded, {summary.unchanged} unchanged"
        + (f"; {summary.objections} with bezwaar are no longer screened" if summary.objections else "")
        + ". They hold from the next list on (run `omu run`)."
    )


def main() -> None:
    """Entry point of the `omu` script. Ends like any Python program, so exit handlers run (they
    remove the temporary folders a run made); what holds DuckDB is closed before that."""
    try:
        app(standalone_mode=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    sys.exit(code)
