"""Jobs: what runs together. Partitioning is inferred from the assets.

The chain (pipelines/automation.py): the landing sensor starts `screening_job` per delivery; once
the landed deliveries are screened, the chain sensor starts `model_job`, then `outreach_job` per
delivery, then `region_job` per changed quarter, then `feedback_job` per delivery of that quarter. `omu run` evaluates the same sensors in-process.

Every step retries twice on an unexpected error (a locked file, a full disk freed meanwhile);
a refusal (dg.Failure with allow_retries=False: a bad delivery) fails at once.
"""

from __future__ import annotations

import dagster as dg

TRANSIENT = dg.RetryPolicy(max_retries=2, delay=10, backoff=dg.Backoff.EXPONENTIAL)

# One delivery end to end, for a manual launch from the UI: ingest, screening and the list
# (ordered by whichever model is saved).
deliveries_job = dg.define_asset_job(
    "deliveries_job",
    selection=dg.AssetSelection.groups("ingest", "screening", "outreach", "feedback"),
    description="Load one practice-quarter delivery, screen it and write its outreach list.",
    tags={"omu/job": "deliveries"},
    op_retry_policy=TRANSIENT,
)

screening_job = dg.define_asset_job(
    "screening_job",
    selection=dg.AssetSelection.groups("ingest", "screening"),
    description="Load and screen one practice-quarter delivery (started by the landing sensor).",
    op_retry_policy=TRANSIENT,
)
outreach_job = dg.define_asset_job(
    "outreach_job",
    selection=dg.AssetSelection.groups("outreach"),
    description="Write one practice-quarter's outreach list, ordered by the risk model (started by the chain "
    "sensor after the model step).",
    op_retry_policy=TRANSIENT,
)
# Once the landed deliveries are screened: the risk model learns from (or is loaded for) every
# screened practice; outreach_job's risk_scores then order the lists by it.
model_job = dg.define_asset_job(
    "model_job",
    selection=dg.AssetSelection.assets("risk_model"),
    description="Train (or load) the risk model that orders the outreach lists.",
    tags={"omu/job": "model"},
    op_retry_policy=TRANSIENT,
)

# Region step per quarter, after the quarter's lists: indicators and the dashboard.
region_job = dg.define_asset_job(
    "region_job",
    selection=dg.AssetSelection.groups("region"),
    description="Regional indicators (suppressed) and the offline dashboard for one quarter.",
    tags={"omu/job": "region"},
    op_retry_policy=TRANSIENT,
)

# After the region step of the quarter: each practice's feedback report beside the published figures.
feedback_job = dg.define_asset_job(
    "feedback_job",
    selection=dg.AssetSelection.groups("feedback"),
    description="Write one practice-quarter's feedback report (own figures, trend, region; started by the chain "
    "sensor after the quarter's region step).",
    op_retry_policy=TRANSIENT,
)
