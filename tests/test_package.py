"""The installed package on its own: the wheel, in a fresh virtual environment outside the checkout,
runs `omu demo` (the generated 10-practice region, the whole chain). Nothing of the repository is on the path there, so this fails when a data
file is not in the wheel, when code reads a file relative to the checkout or the working directory,
or when a module is imported by a name the wheel does not install."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

UV = REPO / ".tools" / "bin" / "uv"
ONLY_IN_THE_REPOSITORY = ("assets", "pipelines", "models", "dashboards", "benchmarks", "sql", "clinical")


def uv(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    result = subprocess.run(
        [str(UV), *args], cwd=cwd, env=_clean_environment(), capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _clean_environment() -> dict[str, str]:
    """No trace of the checkout's environment: no virtualenv, no PYTHONPATH, no omu or Dagster home."""
    dropped = {
        "VIRTUAL_ENV",
        "PYTHONPATH",
        "PYTHONHOME",
        "OMU_HOME",
        "OMU_LANDING",
        "OMU_PROFILE",
        "DAGSTER_HOME",
    }
    return {key: value for key, value in os.environ.items() if key not in dropped}


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """The wheel built from the checkout, installed with the locked versions into a fresh venv."""
    root = tmp_path_factory.mktemp("package")
    uv("build", "--wheel", "--out-dir", str(root / "dist"), str(REPO), cwd=root)
    (wheel,) = (root / "dist").glob("omu-*.whl")
    constraints = root / "constraints.txt"
    uv(
        "export",
        "--frozen",
        "--no-dev",
        "--no-hashes",
        "--no-emit-project",
        "--project",
        str(REPO),
        "--output-file",
        str(constraints),
        "--quiet",
        cwd=root,
    )
    venv = root / "venv"
    uv("venv", "--quiet", "--python", sys.executable, str(venv), cwd=root)
    uv(
        "pip",
        "install",
        "--quiet",
        "--python",
        str(venv / "bin" / "python"),
        str(wheel),
        "-c",
        str(constraints),
        cwd=root,
    )
    return wheel


def test_the_wheel_holds_only_the_omu_package_with_its_data_files(installed):
    names = zipfile.ZipFile(installed).namelist()
    assert {name.split("/")[0] for name in names} == {"omu", "omu-0.1.0.dist-info"}
    for data in (
        "omu/dagster.yaml",
        "omu/sql/store/schema.sql",
        "omu/clinical/profiles/omu-basis-v1.yaml",
        "omu/clinical/reference/wijken.csv",
        "omu/ingest/common_names.csv",
        "omu/sample_data/landing/P0001/2026Q3/manifest.json",
        "omu/assets/ingest.py",
        "omu/pipelines/cli.py",
    ):
        assert data in names
    assert not [name for name in names if name.startswith("omu/benchmarks") or "__pycache__" in name]
    entry_points = zipfile.ZipFile(installed).read("omu-0.1.0.dist-info/entry_points.txt").decode()
    assert "omu = omu.pipelines.cli:main" in entry_points


@pytest.mark.slow
def test_omu_demo_runs_from_the_installed_wheel_outside_the_checkout(installed, tmp_path):
    venv = installed.parent.parent / "venv"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = str(venv / "bin" / "python")
    where = subprocess.run(
        [
            python,
            "-c",
            "import importlib.util as u, omu; print(omu.__file__); "
            f"print([n for n in {ONLY_IN_THE_REPOSITORY!r} if u.find_spec(n)])",
        ],
        cwd=elsewhere,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    module_file, importable = where.stdout.splitlines()
    assert Path(module_file).is_relative_to(venv) and importable == "[]"

    home = tmp_path / "home"
    demo = subprocess.run(
        [str(venv / "bin" / "omu"), "demo", "--home", str(home)],
        cwd=elsewhere,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    # the region worth looking at: every practice has people on its newest list, the dashboard
    # shows most wijken, and the closing summary says what to open first
    latest = home / "out" / "2026Q3"
    practices = sorted(path.name for path in (home / "demo-landing").iterdir() if path.is_dir())
    assert len(practices) == 10
    for practice in practices:
        assert (latest / "practices" / practice / "outreach.xlsx").stat().st_size > 0
    assert "Sterkzorg" in (latest / "region" / "dashboard.html").read_text(encoding="utf-8")
    assert "What to open first" in demo.stdout
    with duckdb.connect(str(home / "omu.duckdb"), read_only=True) as conn:
        listed = dict(
            conn.execute(
                "SELECT practice_id, count(*) FILTER (WHERE listed) FROM outreach_lists "
                "WHERE quarter = '2026Q3' AND list_kind = 'outreach' GROUP BY ALL"
            ).fetchall()
        )
    assert sorted(listed) == practices and min(listed.values()) > 0, listed
    assert not list(elsewhere.iterdir())  # nothing written to the working directory

    bench = subprocess.run(
        [str(venv / "bin" / "omu"), "bench", "--scale", "sample"],
        cwd=elsewhere,
        env=_clean_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bench.returncode == 1 and "checkout" in bench.stderr
