"""The quarter runs itself: what follows what is Dagster's (sensors + run history), and `omu run`
executes exactly what the daemon would request. Real Dagster instances, real runs, real processes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import REPO
from processes import processes_with_home

from omu import store
from omu.home import OmuHome
from omu.pipelines.automation import plan_chain
from omu.pipelines.resources import OmuSettings
from omu.pipelines.runner import run_chain
from omu.pipelines.sensors import chain_sensor
from omu.quarters import quarter_range
from omu.synthetic import generate

OMU = [sys.executable, "-c", "from omu.pipelines.cli import main; main()"]
PROFILE = "omu-basis-v1"
CHAIN_ORDER = ["screening_job", "model_job", "outreach_job", "region_job", "feedback_job"]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("orchestration") / "landing"
    generate(folder, practices=2, quarters=quarter_range("2026Q2:2026Q3"), seed=11, patients=(60, 90))
    return folder


@pytest.fixture(scope="module")
def chain(tmp_path_factory, landing):
    """`omu run`'s chain on 2 practices x 2 quarters; then again, unchanged; then one re-delivery."""
    root = tmp_path_factory.mktemp("chain")
    copy = root / "landing"
    shutil.copytree(landing, copy)
    home = OmuHome.resolve(root / "home")
    first = run_chain(home, copy, workers=2)
    again = run_chain(home, copy, workers=2)
    manifest = copy / "P0002" / "2026Q2" / "manifest.json"
    content = json.loads(manifest.read_text())
    content["his_vendor"] = "Promedico (re-delivery)"
    manifest.write_text(json.dumps(content))
    redelivered = run_chain(home, copy, workers=2)
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    return {
        "home": home,
        "landing": copy,
        "first": first,
        "again": again,
        "redelivered": redelivered,
        "instance": instance,
    }


def test_run_goes_screening_then_model_then_lists_then_region_then_feedback(chain):
    first = chain["first"]
    assert first.success, [(r.job, r.practice_id, r.quarter, r.message) for r in first.runs if not r.success]
    jobs = [r.job for r in first.runs]
    for quarter in ("2026Q2", "2026Q3"):  # per quarter, each step after every run of the one before
        of_quarter = [r.job for r in first.runs if r.quarter in (quarter, "")]
        assert sorted(of_quarter, key=CHAIN_ORDER.index) == of_quarter, of_quarter
    assert jobs.index("model_job") == 4  # after every screening run, before any list
    assert jobs.count("screening_job") == 4 and jobs.count("model_job") == 1
    assert (
        jobs.count("outreach_job") == 4 and jobs.count("region_job") == 2 and jobs.count("feedback_job") == 4
    )
    lists = [(r.practice_id, r.quarter) for r in first.runs if r.job == "outreach_job"]
    for practice in ("P0001", "P0002"):  # a practice's lists oldest quarter first (carry-over)
        assert [q for p, q in lists if p == practice] == ["2026Q2", "2026Q3"]
    home = chain["home"]
    for quarter in ("2026Q2", "2026Q3"):
        assert (home.region_out(quarter) / "dashboard.html").is_file()
        for practice in ("P0001", "P0002"):
            assert (home.practice_out(quarter, practice) / "outreach.xlsx").is_file()
            assert (home.practice_out(quarter, practice) / "feedback.html").is_file()
    assert first.outputs["dashboard"] == home.region_out("2026Q3") / "dashboard.html"


def test_the_runs_carry_the_daemons_sensor_names_and_run_keys(chain):
    """So a daemon started later on this home requests none of them again (and the UI shows one history)."""
    records = chain["instance"].get_run_records(dg.RunsFilter(tags={"omu/step": "screening"}))
    assert records and all(r.dagster_run.tags["dagster/sensor_name"] == "landing_sensor" for r in records)
    keys = {r.dagster_run.tags["dagster/run_key"] for r in records}
    assert len(keys) == len(records) and all(key.startswith("screening|") for key in keys)
    assert any("P0001|2026Q2|" in r.dagster_run.tags["omu/deliveries"] for r in records)
    model = chain["instance"].get_run_records(dg.RunsFilter(tags={"omu/step": "model"}))
    assert model[0].dagster_run.tags["dagster/sensor_name"] == "chain_sensor"


def test_nothing_runs_twice_and_a_redelivery_touches_that_practice_only(chain):
    assert chain["again"].runs == []
    assert chain["again"].waiting == "every output is up to date"
    redelivered = chain["redelivered"]
    assert redelivered.success
    touched = {(r.job, r.practice_id, r.quarter) for r in redelivered.runs}
    assert ("screening_job", "P0002", "2026Q2") in touched
    practice_level = ("screening_job", "outreach_job", "feedback_job")
    assert {p for job, p, _ in touched if job in practice_level} == {"P0002"}
    # its own reports, of the re-delivered quarter and the later one; no other practice's
    assert {q for job, _, q in touched if job == "feedback_job"} == {"2026Q2", "2026Q3"}
    # the model is trained or loaded again for the new data; the region of that quarter and later is remade
    assert ("model_job", "model", "") in touched
    assert {q for job, _, q in touched if job == "region_job"} == {"2026Q2", "2026Q3"}


def test_the_chain_waits_until_the_deliveries_are_in(chain, tmp_path):
    instance, landing = chain["instance"], chain["landing"]
    waiting = plan_chain(instance, landing, profile=PROFILE, quiet_period=3600)
    assert waiting.requests == [] and waiting.waiting.startswith("quiet period")
    more = tmp_path / "landing"
    shutil.copytree(landing, more)
    generate(tmp_path / "new", practices=3, quarters=["2026Q3"], seed=12, patients=(40, 40))
    shutil.copytree(tmp_path / "new" / "P0003", more / "P0003")
    pending = plan_chain(instance, more, profile=PROFILE, quiet_period=0)
    assert pending.requests == [] and pending.waiting == "1 of 5 deliveries not screened yet"


def test_the_chain_sensor_requests_what_the_plan_says(chain, tmp_path):
    """Under the daemon: after a new generation of screened deliveries the sensor asks for the model."""
    settings = OmuSettings(home=str(chain["home"].root), landing=str(chain["landing"]))
    context = dg.build_sensor_context(instance=chain["instance"], resources={"omu": settings})
    assert isinstance(chain_sensor(context), dg.SkipReason)  # everything is up to date
    with dg.instance_for_test() as fresh:  # same landing folder, no history: nothing is screened yet
        skipped = chain_sensor(dg.build_sensor_context(instance=fresh, resources={"omu": settings}))
        assert isinstance(skipped, dg.SkipReason) and "not screened yet" in skipped.skip_message


def test_a_refused_delivery_stops_no_other_practice_and_leaves_an_alert(tmp_path, landing):
    broken = tmp_path / "landing"
    shutil.copytree(landing, broken)
    (broken / "P0001" / "2026Q3" / "episodes.csv").write_text("patient_id,icpc\n")
    home = OmuHome.resolve(tmp_path / "home").prepare()
    home.config_file.write_text("automation:\n  workers: 1\n")  # one batch of P0001 and P0002
    summary = run_chain(home, broken, quarter="2026Q3")
    failed = [(r.job, r.practices) for r in summary.runs if not r.success]
    assert failed == [("screening_job", ("P0001", "P0002"))]
    # P0002 was loaded by that batch, and is screened in a run of its own; it gets its list
    assert {(r.job, r.practices) for r in summary.runs if r.success} >= {
        ("screening_job", ("P0002",)),
        ("outreach_job", ("P0002",)),
    }
    assert any(r.job == "region_job" and r.success for r in summary.runs)
    assert not (home.practice_out("2026Q3", "P0001") / "outreach.xlsx").exists()
    assert (home.practice_out("2026Q3", "P0002") / "outreach.xlsx").is_file()
    alerts = sorted((home.root / "alerts").glob("*-screening_job-*.md"))
    assert len(alerts) == 1
    text = alerts[0].read_text()
    assert "P0001|2026Q3" in text and "episodes.csv" in text
    with duckdb.connect(str(home.database), read_only=True) as conn:
        pseudonyms = {p for (p,) in conn.execute("SELECT DISTINCT patient_id FROM patients").fetchall()}
    assert pseudonyms and not any(p in text for p in pseudonyms)
    assert "P0001|2026Q3" in (home.root / "alerts" / "alerts.log").read_text()


def test_the_run_failure_sensor_writes_the_alert(tmp_path, landing):
    """The daemon's path: the sensor receives the failed run and writes the same kind of alert."""
    from omu.pipelines.definitions import build_definitions

    home = OmuHome.resolve(tmp_path / "home").prepare()
    definitions = build_definitions(home, "")  # no landing folder: the screening run fails at once
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("practice", ["P0001"])
        instance.add_dynamic_partitions("quarter", ["2026Q3"])
        result = definitions.resolve_job_def("screening_job").execute_in_process(
            partition_key=dg.MultiPartitionKey({"practice": "P0001", "quarter": "2026Q3"}),
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "ERROR"}}}},
        )
        assert not result.success
        failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.RUN_FAILURE)
        sensor = definitions.resolve_sensor_def("run_failure_alert")
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=result.dagster_run,
        ).for_run_failure()
        sensor(context)
    (alert,) = (home.root / "alerts").glob("*-screening_job-*.md")
    assert "P0001|2026Q3" in alert.read_text() and "no landing folder configured" in alert.read_text()


def test_the_automation_settings_come_from_config_yaml(tmp_path):
    from omu.config import ConfigError, load_config

    config = tmp_path / "config.yaml"
    assert (load_config(config).quiet_period, load_config(config).workers) == (60, 2)
    config.write_text("automation:\n  quiet_period: 0\n  workers: 3\n")
    assert (load_config(config).quiet_period, load_config(config).workers) == (0, 3)
    config.write_text("automation:\n  workers: 0\n")
    with pytest.raises(ConfigError, match="automation.workers must be a whole number of 1 or more"):
        load_config(config)


def test_runs_left_started_by_a_stop_are_failed_when_serve_starts_again(tmp_path):
    """Otherwise the chain would wait for them forever; the daemon then re-executes them once."""
    from dagster._core.storage.dagster_run import DagsterRun

    from omu.pipelines.serve import fail_interrupted_runs, initialise_instance

    home = OmuHome.resolve(tmp_path / "home").prepare()
    initialise_instance(home)
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        left = instance.add_run(
            DagsterRun(job_name="screening_job", run_id="a" * 36, status=dg.DagsterRunStatus.STARTED)
        )
        waiting = instance.add_run(
            DagsterRun(job_name="outreach_job", run_id="b" * 36, status=dg.DagsterRunStatus.NOT_STARTED)
        )
    assert fail_interrupted_runs(home) == 1
    with dg.DagsterInstance.from_config(str(home.dagster_home)) as instance:
        assert instance.get_run_by_id(left.run_id).status == dg.DagsterRunStatus.FAILURE
        assert (
            instance.get_run_by_id(waiting.run_id).status == dg.DagsterRunStatus.NOT_STARTED
        )  # not yet started
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 1


# --- omu serve: the daemon and the webserver as real processes -------------------------------------------


@pytest.mark.slow
def test_serve_makes_every_output_of_a_quarter_with_nobody_typing_and_stops_on_sigterm(tmp_path):
    landing = tmp_path / "landing"
    landing.mkdir()
    home = (tmp_path / "home").resolve()
    home.mkdir()
    (home / "config.yaml").write_text("automation:\n  quiet_period: 5\n")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp_path / "serve.log").open("w")  # a file, as a journal would be: a pipe nobody reads fills up
    serve = subprocess.Popen(
        [*OMU, "serve", "--home", str(home), "--landing", str(landing), "--port", str(port)],
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    quarter = "2026Q3"
    try:
        # deliveries land while omu serve runs: three practices of one quarter, generated
        generate(tmp_path / "incoming", practices=3, quarters=[quarter], seed=3, patients=(250, 300))
        for practice in sorted(p.name for p in (tmp_path / "incoming").iterdir()):
            shutil.copytree(tmp_path / "incoming" / practice, landing / practice)
        dashboard = home / "out" / quarter / "region" / "dashboard.html"
        lists = [
            home / "out" / quarter / "practices" / p / "outreach.xlsx" for p in ("P0001", "P0002", "P0003")
        ]
        deadline = time.monotonic() + 900  # a ceiling for a loaded CI machine, not a timing
        while not (dashboard.is_file() and all(path.is_file() for path in lists)):
            assert serve.poll() is None, f"omu serve stopped: {(tmp_path / 'serve.log').read_text()}"
            assert time.monotonic() < deadline, "no dashboard and lists within 15 minutes"
            time.sleep(2)
        # under omu's store lock, as every reader: the feedback runs after the dashboard may still write
        with store.connect(home / "omu.duckdb") as conn:
            ordered = conn.execute(
                "SELECT count(*), count(predicted_risk) FROM outreach_lists "
                "WHERE quarter = ? AND list_kind = 'outreach'",
                [quarter],
            ).fetchall()[0]
        assert ordered[0] > 0 and ordered[1] == ordered[0], "the lists are not ordered by the risk model"
        assert list((home / "models").glob("*/*/model.joblib"))
        assert not (home / "alerts").exists() or not list((home / "alerts").glob("*.md"))
        running = processes_with_home(home)
        assert len(running) >= 3  # omu serve, the daemon, the webserver (and their code servers)
    finally:
        stopped = time.monotonic()
        if serve.poll() is None:
            serve.send_signal(signal.SIGTERM)  # to omu serve alone: it must stop what it started
        try:
            serve.wait(timeout=30)
        finally:
            if serve.poll() is None:
                os.killpg(serve.pid, signal.SIGKILL)
            log.close()
    while processes_with_home(home) and time.monotonic() - stopped < 30:
        time.sleep(0.5)
    assert processes_with_home(home) == [], "processes of omu serve still running 30 s after SIGTERM"
    assert serve.returncode == 0
