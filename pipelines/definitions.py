"""The Dagster code location of omu: `dagster dev -m omu.pipelines.definitions` (or `omu ui`).

Settings come from the environment when Dagster loads this module: OMU_HOME (default
./omu-home), OMU_LANDING (the landing folder the sensor watches), OMU_PROFILE (a screening
profile YAML to run alone; default: the profiles named in <home>/config.yaml, else omu-basis v1),
OMU_AUTOMATION=on (`omu serve`: the landing, chain and alert sensors start running with the daemon).
"""

from __future__ import annotations

import os

import dagster as dg

from omu.assets.checks import ASSET_CHECKS
from omu.assets.dashboards import regional_dashboard, regional_indicators
from omu.assets.evaluation import practice_feedback, regional_evaluation
from omu.assets.ingest import ingest_delivery_asset
from omu.assets.model import risk_model, risk_scores
from omu.assets.outreach import outreach_list
from omu.assets.screening import first_time_crossers, score_history
from omu.home import OmuHome
from omu.pipelines.alerts import build_alert_sensor
from omu.pipelines.jobs import (
    deliveries_job,
    feedback_job,
    model_job,
    outreach_job,
    region_job,
    screening_job,
)
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.pipelines.schedules import quarterly_dashboard, quarterly_screening
from omu.pipelines.sensors import automation_status, chain_sensor, landing_sensor

# the asset graph, in the order of the data flow
ASSETS = [
    ingest_delivery_asset,
    score_history,
    first_time_crossers,
    outreach_list,
    regional_indicators,
    regional_dashboard,
    risk_model,
    risk_scores,
    practice_feedback,
    regional_evaluation,
]


def build_definitions(
    home: OmuHome | None = None, landing: str | None = None, profile: str | None = None
) -> dg.Definitions:
    home = home or OmuHome.resolve()
    return dg.Definitions(
        assets=ASSETS,
        asset_checks=ASSET_CHECKS,  # each reads the stored result back, after its asset (assets/checks.py)
        jobs=[deliveries_job, screening_job, model_job, outreach_job, region_job, feedback_job],
        # A delivery's steps form a chain: run them in the run's own process (per-step processes
        # cost ~20 s of imports each and buy no parallelism); runs go side by side via the run queue.
        executor=dg.in_process_executor,
        sensors=[landing_sensor, chain_sensor, build_alert_sensor(home, automation_status())],
        schedules=[quarterly_screening, quarterly_dashboard],
        resources={
            "store": DuckDBStore(database=str(home.database)),
            "omu": OmuSettings(
                home=str(home.root),
                landing=landing if landing is not None else os.environ.get("OMU_LANDING", ""),
                profile=profile or os.environ.get("OMU_PROFILE", ""),
            ),
        },
    )


defs = build_definitions()
