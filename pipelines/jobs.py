"""Jobs: what runs together. Partitioning is inferred from the assets."""

from __future__ import annotations

import dagster as dg

# One delivery end to end (the sensor and the quarterly schedule start this one).
deliveries_job = dg.define_asset_job(
    "deliveries_job",
    selection=dg.AssetSelection.groups("ingest", "screening", "outreach", "feedback"),
    description="Load one practice-quarter delivery, screen it and write its outreach list.",
    tags={"omu/job": "deliveries"},
)

# `omu run` goes phase by phase over all deliveries, so the risk model can learn from every
# screened practice before the lists are ordered by it.
screening_job = dg.define_asset_job(
    "screening_job",
    selection=dg.AssetSelection.groups("ingest", "screening"),
    description="Load and screen one practice-quarter delivery.",
)
outreach_job = dg.define_asset_job(
    "outreach_job",
    selection=dg.AssetSelection.groups("outreach"),
    description="Write one practice-quarter's outreach list.",
)
# Between the screening and the outreach phase, once: the risk model learns from (or is loaded
# for) every screened practice; outreach_job's risk_scores then order the lists by it.
model_job = dg.define_asset_job(
    "model_job",
    selection=dg.AssetSelection.assets("risk_model"),
    description="Train (or load) the risk model that orders the outreach lists.",
    tags={"omu/job": "model"},
)

# Region step, once per quarter after every delivery of it: indicators and the dashboard.
region_job = dg.define_asset_job(
    "region_job",
    selection=dg.AssetSelection.groups("region"),
    description="Regional indicators (suppressed) and the offline dashboard for one quarter.",
    tags={"omu/job": "region"},
)

# After the region step of the quarter: each practice's feedback report beside the published figures.
feedback_job = dg.define_asset_job(
    "feedback_job",
    selection=dg.AssetSelection.groups("feedback"),
    description="Write one practice-quarter's feedback report (own figures, trend, region).",
)
