"""Jobs: what runs together. Partitioning is inferred from the assets."""

from __future__ import annotations

import dagster as dg

# One delivery end to end: ingest, screening (and later steps of the same practice-quarter).
deliveries_job = dg.define_asset_job(
    "deliveries_job",
    selection=dg.AssetSelection.groups("ingest", "screening"),
    description="Load one practice-quarter delivery and screen it.",
    tags={"omu/job": "deliveries"},
)
