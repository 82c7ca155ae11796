"""The Dagster code location and the omu command line, used as a data lead would."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import duckdb
import pytest
import yaml
from conftest import REPO
from processes import processes_with_home

from omu.assets.checks import checks_for
from omu.assets.ingest import ingest_delivery_asset
from omu.assets.outreach import outreach_list
from omu.assets.screening import first_time_crossers, score_history
from omu.contract import FILES, REQUIRED_FILES
from omu.file_reading import sha256_of
from omu.home import OmuHome
from omu.ingest.delivery import check_delivery
from omu.pipelines.definitions import build_definitions, defs
from omu.pipelines.partitions import partition_key
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.pipelines.schedules import quarterly_dashboard, quarterly_screening
from omu.pipelines.sensors import landing_sensor
from omu.pipelines.serve import stop_groups
from omu.quarters import quarter_range
from omu.resources import CLINICAL_DIR
from omu.synthetic import generate

OMU = [sys.executable, "-c", "from omu.pipelines.cli import main; main()"]


@pytest.fixture(scope="module")
def landing(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("landing") / "landing"
    generate(folder, practices=2, quarters=quarter_range("2026Q2:2026Q3"), seed=3, patients=(80, 120))
    return folder


def omu(*args: str, home: Path | None = None) -> subprocess.CompletedProcess:
    command = [*OMU, *args]
    if home is not None:
        command += ["--home", str(home)]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, timeout=600)


def test_the_code_location_loads():
    job_names = {job.name for job in defs.jobs}
    assert {"deliveries_job", "screening_job", "outreach_job"} <= job_names
    assert {s.name for s in defs.sensors} == {"landing_sensor", "chain_sensor", "run_failure_alert"}
    assert {s.name for s in defs.schedules} == {"quarterly_screening", "quarterly_dashboard"}
    for name in job_names:
        defs.resolve_job_def(name)
    keys = {key.to_user_string() for key in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {
        "patients",
        "quarantine",
        "deliveries",
        "score_history",
        "first_time_crossers",
        "outreach_list",
    } <= keys


def test_dagster_telemetry_is_off_and_storage_under_the_omu_home(tmp_path):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    config = yaml.safe_load((home.dagster_home / "dagster.yaml").read_text())
    assert config["telemetry"]["enabled"] is False
    assert config["storage"]["sqlite"]["base_dir"] == {"env": "DAGSTER_HOME"}
    instance = dg.DagsterInstance.from_config(str(home.dagster_home))
    assert not instance.telemetry_enabled


def test_materialising_one_delivery_loads_screens_and_lists_it(tmp_path, landing):
    home = OmuHome.resolve(tmp_path / "home").prepare()
    home.config_file.write_text("outreach:\n  capacity:\n    P0001: 1\n")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("practice", ["P0001"])
    instance.add_dynamic_partitions("quarter", ["2026Q3"])
    assets = [ingest_delivery_asset, score_history, first_time_crossers, outreach_list]
    result = dg.materialize(
        [*assets, *checks_for(assets)],
        partition_key=partition_key("P0001", "2026Q3"),
        instance=instance,
        resources={
            "store": DuckDBStore(database=str(home.database)),
            "omu": OmuSettings(home=str(home.root), landing=str(landing)),
        },
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(check.passed for check in checks)
    assert {c.check_name for c in checks} >= {
        "rows_add_up",
        "contract_expectations",
        "every_registered_patient_screened_once",
        "score_is_weighted_sum_of_flags",
        "no_first_time_crosser_was_over_before",
        "only_this_practice",
    }
    events = {
        e.asset_key.to_user_string(): e.metadata
        for e in result.get_asset_materialization_events()
        for e in [e.event_specific_data.materialization]
    }
    assert events["patients"]["rows_quarantined"].value == 0
    assert (home.practice_out("2026Q3", "P0001") / "screening.csv").is_file()
    assert events["outreach_list"]["capacity"].value == 1  # from <home>/config.yaml
    assert events["outreach_list"]["listed"].value <= 1


def test_a_refused_delivery_fails_its_run_with_the_reasons(tmp_path, landing):
    broken = tmp_path / "landing"
    shutil.copytree(landing / "P0002" / "2026Q3", broken / "P0002" / "2026Q3")
    (broken / "P0002" / "2026Q3" / "episodes.csv").write_text("patient_id,icpc\n")
    home = OmuHome.resolve(tmp_path / "home").prepare()
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("practice", ["P0002"])
    instance.add_dynamic_partitions("quarter", ["2026Q3"])
    result = dg.materialize(
        [ingest_delivery_asset],
        partition_key=partition_key("P0002", "2026Q3"),
        instance=instance,
        resources={
            "store": DuckDBStore(database=str(home.database)),
            "omu": OmuSettings(home=str(home.root), landing=str(broken)),
        },
        raise_on_error=False,
    )
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    reasons = failure.step_failure_data.user_failure_data.description
    assert "episodes.csv, column sha256: the file does not match its sha256" in reasons
    assert "episodes.csv, line 1, column start_date: the required column start_date is missing" in reasons


def _batches(requests) -> list[list[str]]:
    """Each run request's deliveries ('P0001|2026Q2', ...), as its tags name them."""
    return [
        ["|".join(entry.split("|")[:2]) for entry in r.tags["omu/deliveries"].split(",")] for r in requests
    ]


def test_the_sensor_requests_the_oldest_quarter_first_as_batches_of_practices(tmp_path, landing):
    copy = tmp_path / "landing"
    shutil.copytree(landing, copy)
    home = OmuHome.resolve(tmp_path / "home").prepare()
    home.config_file.write_text("automation:\n  workers: 1\n")  # one batch per quarter
    instance = dg.DagsterInstance.ephemeral()
    settings = OmuSettings(home=str(home.root), landing=str(copy))
    first = landing_sensor(dg.build_sensor_context(instance=instance, resources={"omu": settings}))
    # a practice's quarters are screened in order: 2026Q3 waits until 2026Q2 has its runs
    assert _batches(first.run_requests) == [["P0001|2026Q2", "P0002|2026Q2"]]
    (request,) = first.run_requests
    assert request.tags["dagster/asset_partition_range_start"] == "P0001|2026Q2"
    assert request.tags["dagster/asset_partition_range_end"] == "P0002|2026Q2"
    added = {(r.partitions_def_name, tuple(r.partition_keys)) for r in first.dynamic_partitions_requests}
    assert added == {("practice", ("P0001", "P0002")), ("quarter", ("2026Q2", "2026Q3"))}
    for addition in first.dynamic_partitions_requests:
        instance.add_dynamic_partitions(addition.partitions_def_name, list(addition.partition_keys))
    # the same deliveries give the same run key: the daemon starts each batch once
    again = landing_sensor(dg.build_sensor_context(instance=instance, resources={"omu": settings}))
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert again.dynamic_partitions_requests == []
    # a changed manifest is another delivery: another run key
    manifest = copy / "P0002" / "2026Q2" / "manifest.json"
    content = json.loads(manifest.read_text())
    content["his_vendor"] = "Promedico (re-delivery)"
    manifest.write_text(json.dumps(content))
    changed = landing_sensor(dg.build_sensor_context(instance=instance, resources={"omu": settings}))
    assert _batches(changed.run_requests) == [["P0001|2026Q2", "P0002|2026Q2"]]
    assert changed.run_requests[0].run_key != request.run_key
    assert f"P0002|2026Q2|{sha256_of(manifest)[:16]}" in changed.run_requests[0].tags["omu/deliveries"]


def test_the_quarterly_schedule_screens_the_completed_quarter(tmp_path, landing):
    settings = OmuSettings(home=str(tmp_path / "home"), landing=str(landing))
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            resources={"omu": settings},
            scheduled_execution_time=dt.datetime(2026, 10, 15, 7),
        )
        requests = quarterly_screening(context)
        assert sorted(d for batch in _batches(requests) for d in batch) == ["P0001|2026Q3", "P0002|2026Q3"]
        assert set(instance.get_dynamic_partitions("practice")) == {"P0001", "P0002"}
        early = dg.build_schedule_context(
            instance=instance,
            resources={"omu": settings},
            scheduled_execution_time=dt.datetime(2027, 1, 15, 7),
        )
        assert isinstance(quarterly_screening(early), dg.SkipReason)
        instance.add_dynamic_partitions("quarter", ["2026Q3"])
        region = quarterly_dashboard(
            dg.build_schedule_context(
                instance=instance, scheduled_execution_time=dt.datetime(2026, 10, 16, 7)
            )
        )
        assert [r.partition_key for r in region] == ["2026Q3"]


# --- the command line ---------------------------------------------------------------------------

COMMANDS = [
    [],
    ["generate"],
    ["validate"],
    ["run"],
    ["demo"],
    ["explain"],
    ["outcomes"],
    ["outcomes", "import"],
    ["exclusions"],
    ["exclusions", "import"],
    ["audit"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "omu")
def test_every_command_has_help(command):
    result = omu(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage:" in result.stdout


def test_a_usage_error_exits_2():
    assert omu("run").returncode == 2  # --landing is required
    assert omu("generate", "--out", "/tmp/x", "--quarters", "2026Q5").returncode == 2
    assert omu("nonsense").returncode == 2


def test_generate_writes_contract_valid_deliveries(tmp_path):
    result = omu(
        "generate",
        "--out",
        str(tmp_path / "x"),
        "--practices",
        "3",
        "--quarters",
        "2026Q2:2026Q3",
        "--seed",
        "1",
        "--patients",
        "60:90",
    )
    assert result.returncode == 0, result.stderr
    deliveries = sorted(tmp_path.glob("x/*/*/manifest.json"))
    assert [f"{m.parent.parent.name}/{m.parent.name}" for m in deliveries] == [
        f"P000{p}/{q}" for p in (1, 2, 3) for q in ("2026Q2", "2026Q3")
    ]
    for number, manifest in enumerate(deliveries):
        content = json.loads(manifest.read_text())
        assert set(REQUIRED_FILES) <= set(content["files"]) <= {f.name for f in FILES}
        check = check_delivery(manifest.parent, tmp_path / f"stage{number}")
        assert check.accepted and check.quarantine.is_empty(), check.refusal_reason
    assert omu("validate", str(deliveries[-1].parent)).returncode == 0


def test_validate_exits_1_for_a_refused_delivery_and_names_the_problem(tmp_path, landing):
    folder = tmp_path / "P0001" / "2026Q3"
    shutil.copytree(landing / "P0001" / "2026Q3", folder)
    (folder / "manifest.json").unlink()
    result = omu("validate", str(folder))
    assert result.returncode == 1
    assert "Refused" in result.stdout and "manifest.json is missing" in result.stdout


@pytest.fixture(scope="module")
def ran(tmp_path_factory, landing) -> tuple[Path, subprocess.CompletedProcess]:
    home = tmp_path_factory.mktemp("ran") / "home"
    home.mkdir()
    # one run at a time: the UI's "check of the latest materialisation" then names one run
    # deterministically (side by side, two practices' runs interleave their check records)
    (home / "config.yaml").write_text("automation:\n  workers: 1\n")
    return home, omu("run", "--landing", str(landing), "--quarter", "2026Q3", home=home)


def test_run_then_explain(ran):
    home, result = ran
    assert result.returncode == 0, result.stdout + result.stderr
    assert "omu.duckdb" in result.stdout
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        (patient,) = conn.execute(
            "SELECT patient_id FROM screening WHERE quarter = '2026Q3' AND over_threshold "
            "ORDER BY patient_id LIMIT 1"
        ).fetchall()[0]
        counts = conn.execute("SELECT count(*) FROM deliveries WHERE status = 'loaded'").fetchall()[0][0]
    assert counts == 2
    explained = omu("explain", patient, "--practice", "P0001", "--quarter", "2026Q3", home=home)
    if explained.returncode == 1:  # the patient is in P0002
        explained = omu("explain", patient, "--practice", "P0002", "--quarter", "2026Q3", home=home)
    assert explained.returncode == 0, explained.stderr
    assert "at or over the threshold 3" in explained.stdout
    assert "older_than_55" in explained.stdout and "-> counts" in explained.stdout


def test_explain_says_clearly_when_a_patient_was_not_screened(ran):
    home, _ = ran
    result = omu("explain", "nobody0000000000", "--practice", "P0001", "--quarter", "2026Q3", home=home)
    assert result.returncode == 1
    assert "was not screened" in result.stderr


def test_build_definitions_takes_its_settings_from_the_arguments(tmp_path):
    home = OmuHome.resolve(tmp_path / "h")
    definitions = build_definitions(
        home, "/data/landing", str(CLINICAL_DIR / "profiles" / "omu-basis-v1.yaml")
    )
    resources = definitions.resources
    assert resources["store"].database == str(home.database)
    assert resources["omu"].landing == "/data/landing"


def test_run_refuses_a_broken_profile_before_any_run(tmp_path, landing):
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        "name: x\nversion: 1\nthreshold: 3\ncharacteristics:\n"
        "  - {id: a, weight: 1, criteria: [{type: age_above, years: 5}]}\n"
    )
    result = omu("run", "--landing", str(landing), "--profile", str(broken), home=tmp_path / "home")
    assert result.returncode == 1
    assert "unknown characteristic type 'age_above'" in " ".join(result.stderr.split())
    assert not (tmp_path / "home" / "omu.duckdb").exists()


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)["data"]


def test_dagster_dev_shows_the_assets_the_sensor_the_schedules_and_the_checks(ran, landing):
    """`omu ui` starts the real `dagster dev` on the omu home; its GraphQL API shows what the data lead sees."""
    home, result = ran
    assert result.returncode == 0, result.stdout + result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    ui = subprocess.Popen(
        [*OMU, "ui", "--home", str(home), "--landing", str(landing), "--port", str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/server_info", timeout=5):
                    break
            except OSError:
                assert ui.poll() is None, "dagster dev stopped before it served the UI"
                assert time.monotonic() < deadline, "dagster dev did not serve the UI within 3 minutes"
                time.sleep(1)
        code_location = _graphql(
            port,
            "{ repositoriesOrError { ... on RepositoryConnection { nodes { "
            "sensors { name } schedules { name } } } } assetNodes { assetKey { path } } }",
        )
        (repository,) = code_location["repositoriesOrError"]["nodes"]
        assert {sensor["name"] for sensor in repository["sensors"]} == {
            "landing_sensor",
            "chain_sensor",
            "run_failure_alert",
        }
        assert {schedule["name"] for schedule in repository["schedules"]} == {
            "quarterly_screening",
            "quarterly_dashboard",
        }
        shown = {node["assetKey"]["path"][0] for node in code_location["assetNodes"]}
        assert {
            "patients",
            "episodes",
            "prescriptions",
            "determinations",
            "contacts",
            "deliveries",
            "quarantine",
            "score_history",
            "first_time_crossers",
            "outreach_list",
        } <= shown

        patients = _graphql(
            port,
            '{ assetNodes(assetKeys: [{path: ["patients"]}]) { '
            'latestMaterializationByPartition(partitions: ["P0001|2026Q3"]) { '
            "metadataEntries { label } } assetChecksOrError { ... on AssetChecks { "
            "checks { name executionForLatestMaterialization { status } } } } } }",
        )["assetNodes"][0]
        (materialisation,) = patients["latestMaterializationByPartition"]
        labels = {e["label"] for e in materialisation["metadataEntries"]}
        assert {"rows_loaded", "rows_quarantined", "distinct_patients", "profile"} <= labels
        assert "preview" not in labels  # aggregates only: the UI has no login
        checks = {
            check["name"]: check["executionForLatestMaterialization"]["status"]
            for check in patients["assetChecksOrError"]["checks"]
        }
        assert checks == {"contract_expectations": "SUCCEEDED", "rows_add_up": "SUCCEEDED"}
        assert len(processes_with_home(home)) >= 3  # omu ui, dagster dev, its webserver and daemon
    finally:
        stopped = time.monotonic()
        ui.send_signal(signal.SIGTERM)  # omu ui stops, with every process it started, within 30 s
        try:
            ui.wait(timeout=30)
        finally:
            if ui.poll() is None:
                stop_groups({"omu ui": ui}, grace_seconds=1)
    while processes_with_home(home) and time.monotonic() - stopped < 30:
        time.sleep(0.5)
    assert processes_with_home(home) == [], "processes of omu ui still running 30 s after SIGTERM"
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        started = conn.execute("SELECT count(*) FROM access_log WHERE action = 'ui_started'").fetchall()[0][0]
    assert started == 1  # the access log has it
