"""The omu command line. Exit codes: 0 success, 1 refused or failed, 2 usage error."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from omu.home import REPO_ROOT, OmuHome, disable_analytics

disable_analytics()

app = typer.Typer(
    name="omu",
    help="Population-health screening for Dutch general practice: HIS extracts -> first-time risk "
    "crossers -> outreach lists and regional dashboards.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

SAMPLE_LANDING = REPO_ROOT / "sample_data" / "landing"


class State:
    quiet = False


state = State()
console = Console(stderr=False, highlight=False, soft_wrap=True)

HomeOption = Annotated[
    Path | None,
    typer.Option("--home", help="The omu home (store, outputs, Dagster storage). Default: $OMU_HOME or ./omu-home."),
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


def chosen_profile(profile: Path | None) -> Path:
    """--profile, else $OMU_PROFILE, else the default omu-basis v1."""
    from omu.screening.profile import DEFAULT_PROFILE

    return Path(profile or os.environ.get("OMU_PROFILE") or DEFAULT_PROFILE)


def progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, disable=state.quiet, transient=False,
    )


@app.callback()
def main_options(
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only errors and the final result.")] = False,
) -> None:
    state.quiet = quiet


@app.command()
def generate(
    out: Annotated[Path, typer.Option("--out", help="Landing folder to write: <out>/<practice_id>/<quarter>/.")],
    practices: Annotated[int, typer.Option("--practices", min=1, help="Number of practices.")] = 3,
    quarters: Annotated[str, typer.Option("--quarters", help="Quarter or range, e.g. 2025Q3:2026Q3.")] = "2026Q2:2026Q3",
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same files.")] = 1,
    patients: Annotated[str, typer.Option("--patients", help="Practice size range MIN:MAX.")] = "2000:12000",
    truth: Annotated[Path | None, typer.Option("--truth", help="Also write the ground truth here "
                                               "(outside the landing folder).")] = None,
    outcomes: Annotated[Path | None, typer.Option("--outcomes", help="Simulate the outreach loop and write the "
                                                  "POH's outcome files here (outside the landing folder).")] = None,
    reach_probability: Annotated[float, typer.Option("--reach-probability", min=0.0, max=1.0,
                                                     help="With --outcomes: chance a listed patient is reached.")] = 0.6,
    hazard_ratio: Annotated[float, typer.Option("--hazard-ratio", min=0.01,
                                                help="With --outcomes: effect of being reached on unplanned care.")] = 0.8,
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
        summary = run_generator(out, practices=practices, quarters=quarter_list, seed=seed, patients=size,
                                truth_dir=truth, progress=lambda _: bar.advance(task), outreach=loop,
                                outcomes_dir=outcomes)
    result(f"wrote {summary.deliveries} deliveries for {practices} practices to {out}")
    if truth is not None:
        say(f"ground truth in {truth}")
    if outcomes is not None:
        say(f"outreach outcomes (reach {reach_probability}, hazard ratio {hazard_ratio}) in {outcomes}: "
            "import each with omu outcomes import after its quarter's run")


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
    practice_id, quarter = delivery_location(delivery_dir.resolve())
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
    landing: Annotated[Path, typer.Option("--landing", help="The landing folder: <landing>/<practice_id>/<quarter>/.")],
    home: HomeOption = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="Only this quarter (default: all found, "
                                                "oldest first).")] = None,
    profile: ProfileOption = None,
) -> None:
    """Materialise everything for the quarter(s) found in the landing folder, through Dagster."""
    summary = _run(OmuHome.resolve(home), landing, quarter, profile)
    if not summary.success:
        raise typer.Exit(code=1)


def _run(home: OmuHome, landing: Path, quarter: str | None, profile: Path | None):
    from omu.screening.profile import ProfileError, load_profile
    from pipelines.runner import run_chain, select_deliveries, step_count

    if not landing.is_dir():
        raise fail(f"no landing folder at {landing}")
    profile = chosen_profile(profile)
    try:
        load_profile(profile)  # a broken profile is refused before any run starts
    except ProfileError as error:
        raise fail(f"profile refused: {error}") from error
    if quarter:
        from omu.quarters import Quarter

        try:
            Quarter.parse(quarter)
        except ValueError as error:
            raise typer.BadParameter(str(error)) from error
    if not select_deliveries(landing, quarter):
        raise fail(f"no deliveries (<practice_id>/<quarter>/manifest.json) in {landing}"
                   + (f" for {quarter}" if quarter else ""))
    with progress() as bar:
        task = bar.add_task("starting", total=step_count(landing, quarter))
        started = []

        def step(description: str) -> None:
            if started:
                bar.advance(task)
            started.append(description)
            bar.update(task, description=description)

        summary = run_chain(home, landing, quarter=quarter, profile=str(profile) if profile else None, on_step=step)
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
            Console(stderr=True).print(f"[bold red]{outcome.practice_id} {outcome.quarter}:[/] {outcome.message}",
                                       markup=True, highlight=False)
    home = summary.home
    say(f"\nstore:           {home.database}")
    quarters = sorted({o.quarter for o in summary.runs if o.quarter and o.success})
    if quarters:
        latest = home.quarter_out(quarters[-1])
        practices = sorted({o.practice_id for o in summary.runs if o.quarter == quarters[-1] and o.success}
                           - {"regio", "model"})
        say(f"delivery reports: {latest / 'deliveries' / '<practice>' / 'report.md'} ({', '.join(practices)})")
        say(f"outreach lists:  {latest / 'practices' / '<practice>' / 'outreach.xlsx'} (also .csv, .html)")
        say(f"feedback:        {latest / 'practices' / '<practice>' / 'feedback.html'}")
    for label, path in summary.outputs.items():
        say(f"{label + ':':<16} {path}")
    say(f"all outputs:     {home.out}")
    failed = sum(not outcome.success for outcome in summary.runs)
    result(f"omu run: {len(summary.runs) - failed} of {len(summary.runs)} Dagster runs succeeded; outputs in {home.out}")


@app.command()
def demo(home: HomeOption = None) -> None:
    """Run the whole chain on the committed sample_data/ landing folder and say where everything is."""
    omu_home = OmuHome.resolve(home)
    say(f"omu demo: sample deliveries from {SAMPLE_LANDING}")
    summary = _run(omu_home, SAMPLE_LANDING, None, None)
    if not summary.success:
        raise typer.Exit(code=1)


@app.command()
def explain(
    patient_id: Annotated[str, typer.Argument(help="The pseudonymous patient_id.")],
    practice: Annotated[str, typer.Option("--practice", help="Practice id, e.g. P0001.")],
    quarter: Annotated[str, typer.Option("--quarter", help="Quarter, e.g. 2026Q3.")],
    home: HomeOption = None,
    profile: ProfileOption = None,
) -> None:
    """Show why a patient scored as they did: each characteristic with the records behind it."""
    from omu import store
    from omu.screening.explain import NotScreened
    from omu.screening.explain import explain as explain_patient
    from omu.screening.profile import load_profile

    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    loaded_profile = load_profile(chosen_profile(profile))
    with store.connect(omu_home.database) as conn:
        try:
            result = explain_patient(conn, loaded_profile, practice_id=practice, quarter=quarter, patient_id=patient_id)
        except NotScreened as error:
            raise fail(str(error)) from error
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
        points = ("note, not scored" if not characteristic.scored
                  else f"+{characteristic.weight}" if holds else "0 points")
        console.print(f"\n{mark} {characteristic.id} ({characteristic.label}): {points}")
        for number, criterion in enumerate(characteristic.criteria, start=1):
            console.print(f"  {criterion.describe()}", markup=False)
            evidence = result.evidence.filter((result.evidence["characteristic"] == characteristic.id)
                                              & (result.evidence["criterion_no"] == number))
            if evidence.is_empty():
                console.print("    no matching records", markup=False)
            for item in evidence.iter_rows(named=True):
                when = f" {item['date']}" if item["date"] else ""
                until = f" until {item['until']}" if item["until"] else (
                    " (still open)" if item["record"] == "episode" else "")
                used = "counts" if item["counts"] else "does not count"
                console.print(f"    {item['record']} {item['code']}{when}{until}: {item['detail']} -> {used}",
                              markup=False)
    verdict = "at or over" if row["over_threshold"] else "below"
    console.print(f"\n[bold]score {row['score']}[/] ({verdict} the threshold {loaded_profile.threshold}); "
                  f"first time over: {'yes' if row['first_time'] else 'no'}"
                  + (f"; first crossed in {row['first_crossed_quarter']}" if row["first_crossed_quarter"] else ""))


@app.command()
def dashboard(
    quarter: Annotated[str, typer.Option("--quarter", help="Quarter, e.g. 2026Q3.")],
    home: HomeOption = None,
    profile: ProfileOption = None,
) -> None:
    """Write the regional dashboard of a quarter: out/<quarter>/region/dashboard.html, indicators.csv/.xlsx.

    Recomputes the (suppressed) indicators of every delivered quarter up to QUARTER from the store
    first, so the trend and late outreach outcomes are current."""
    from dashboards.indicators import NotDelivered
    from dashboards.region import write_region
    from models.outcome import load_outcome
    from omu import store
    from omu.config import load_config
    from omu.evaluation.outcome import write_region_evaluation
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
        try:
            outputs = write_region(conn, omu_home, loaded_profile, wanted)
        except NotDelivered as error:
            raise fail(str(error)) from error
        # the outcome-after-outreach section belongs on the page as the region step puts it there
        _, evaluation_files, _ = write_region_evaluation(conn, omu_home.region_out(wanted), loaded_profile,
                                                         load_outcome(), wanted,
                                                         load_config(omu_home.config_file).capacity_for)
        outputs.files = {**outputs.files, **evaluation_files}
    say(f"regional dashboard {wanted} (profile {loaded_profile.name} v{loaded_profile.version}; "
        f"quarters {', '.join(outputs.quarters)})")
    say(f"highest age-standardised share over the threshold: {outputs.highest_wijk or 'no wijk shown'}")
    say(f"practices outside the 99.8% funnel limits: {', '.join(outputs.outside_998) or 'none'}")
    for name, path in outputs.files.items():
        say(f"{name + ':':<17} {path}")


model_app = typer.Typer(name="model", help="The risk model that orders the outreach lists.", no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("report")
def model_report(
    home: HomeOption = None,
    truth: Annotated[Path | None, typer.Option("--truth", help="The generator's truth folder (generated data "
                                               "only): compare with the true probabilities.")] = None,
    version: Annotated[str | None, typer.Option("--version", help="A saved model version (default: the latest).")] = None,
) -> None:
    """Evaluate the saved risk model on its held-out practices: out/model/report.html and report.json."""
    from models.report import ReportError, write_report

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


@app.command()
def ui(
    home: HomeOption = None,
    landing: Annotated[Path | None, typer.Option("--landing", help="The landing folder the sensor watches "
                                                 "(default: $OMU_LANDING, else sample_data/landing).")] = None,
    port: Annotated[int, typer.Option("--port", help="Port of the web UI (on 127.0.0.1 only).")] = 3000,
) -> None:
    """Open Dagster's UI (`dagster dev`) on this omu home: assets, checks, runs, the sensor and the schedule."""
    omu_home = OmuHome.resolve(home).prepare()
    chosen = landing or Path(os.environ.get("OMU_LANDING") or SAMPLE_LANDING)
    environment = {**os.environ, "OMU_HOME": str(omu_home.root), "OMU_LANDING": str(chosen.resolve()),
                   "DAGSTER_HOME": str(omu_home.dagster_home)}
    say(f"Dagster UI on http://127.0.0.1:{port} (home {omu_home.root}, landing {chosen}); stop with Ctrl-C")
    os.chdir(omu_home.root)  # so no other dagster.yaml is in view
    dagster = Path(sys.executable).with_name("dagster")
    os.execve(str(dagster), [str(dagster), "dev", "-m", "pipelines.definitions", "-h", "127.0.0.1", "-p", str(port)],
              environment)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True,
                               "help_option_names": []})
def bench(ctx: typer.Context) -> None:
    """Benchmarks: time every stage at --scale sample|city|national (all options: omu bench --help).

    The same as `python -m benchmarks`; writes benchmarks/results/<name>.json and .md."""
    from benchmarks.run import main as run_benchmark

    run_benchmark(list(ctx.args))


outcomes_app = typer.Typer(name="outcomes", help="Outcomes of the outreach calls, handed back by the practice.",
                           no_args_is_help=True)
app.add_typer(outcomes_app, name="outcomes")


@outcomes_app.command("import")
def outcomes_import(
    file: Annotated[Path, typer.Argument(help="The filled-in outreach.xlsx, or a CSV with patient_id, quarter, "
                                         "outcome, referral_target, date, note (and practice_id).")],
    home: HomeOption = None,
    practice: Annotated[str | None, typer.Option("--practice", help="The practice the file belongs to (needed "
                                                 "when the file has no practice column).")] = None,
    quarter: Annotated[str | None, typer.Option("--quarter", help="The list's quarter, for a file without a "
                                                "quarter column.")] = None,
) -> None:
    """Import outcomes; one bad row refuses the whole file. Importing the same file twice changes nothing."""
    from omu import store
    from omu.outreach.outcomes import OutcomeFileError, import_outcomes

    omu_home = OmuHome.resolve(home)
    if not omu_home.database.exists():
        raise fail(f"no store at {omu_home.database}: run `omu run` first")
    with store.connect(omu_home.database) as conn:
        try:
            summary = import_outcomes(conn, file, practice=practice, quarter=quarter)
        except OutcomeFileError as error:
            raise fail(str(error)) from error
    result(f"{file.name}: {summary.new} new, {summary.changed} changed, {summary.unchanged} unchanged outcome(s); "
        f"{summary.skipped_blank} row(s) without an outcome skipped. They shape next quarter's list "
        "(run `omu run` for it).")


def main() -> None:
    """Entry point of the `omu` script.

    Ends the process with os._exit once everything is flushed: DuckDB 2's nanobind bindings print
    a benign "leaked instances" report at interpreter shutdown after Great Expectations has used
    DuckDB, which would only alarm a user (nanobind's docs: refleaks.html)."""
    try:
        app(standalone_mode=True)
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
