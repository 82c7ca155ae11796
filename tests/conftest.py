"""Shared fixtures: real DuckDB files in tmp_path, real generated deliveries, a real Chromium."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ["GX_ANALYTICS_ENABLED"] = "False"

REPO = Path(__file__).resolve().parent.parent
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _without_dagster_state_storage():
    """Dagster keeps the state storage of the instance last entered in a context variable; a test
    whose temporary instance is gone must not hand it to the next test's definitions loading."""
    from dagster._core.storage.defs_state.base import set_defs_state_storage

    with set_defs_state_storage(None):
        yield


# module fixtures (a chain run once per file) and each test start without a leftover storage
_isolated_module = pytest.fixture(scope="module", autouse=True)(_without_dagster_state_storage)
_isolated_test = pytest.fixture(autouse=True, name="_isolated_test")(_without_dagster_state_storage)


# The files whose module fixtures run a whole chain (or a real daemon, or the wheel's demo): two
# workers take test files in collection order, so these go first and the short ones fill in after,
# instead of one long file starting last while the other worker idles.
LONGEST_FIRST = (
    "test_package.py",
    "test_orchestration.py",
    "test_evaluation.py",
    "test_audit.py",
    "test_dashboards.py",
    "test_concurrency.py",
    "test_model.py",
    "test_pipelines.py",
    "test_disclosure_attack.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file stays


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright (./dev test installs it on a fresh machine)."""
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


# DuckDB 2's nanobind bindings print a benign "leaked instances" report at interpreter shutdown
# once Great Expectations has used DuckDB; it would bury pytest's closing summary. End the
# process right after pytest is done, with pytest's own exit status (as `omu` itself does).
# Not in a pytest-xdist worker: it still has to hand its results to the controller over execnet.
def pytest_sessionfinish(session, exitstatus):
    if not hasattr(session.config, "workerinput"):
        session.config.stash[_EXIT_STATUS] = int(exitstatus)


def pytest_unconfigure(config):
    if _EXIT_STATUS in config.stash:
        import logging
        import sys

        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(config.stash[_EXIT_STATUS])


_EXIT_STATUS = pytest.StashKey[int]()
