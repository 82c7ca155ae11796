"""Partitions: one delivery = one practice and one quarter.

Both dimensions are dynamic: the landing sensor (or `omu run`) adds a practice or a quarter when
its first delivery appears, so the UI shows exactly the deliveries there are. Keys read
'P0001|2026Q3' (practice|quarter). Region-level assets are partitioned by quarter alone.
"""

from __future__ import annotations

import dagster as dg

practices = dg.DynamicPartitionsDefinition(name="practice")
quarters = dg.DynamicPartitionsDefinition(name="quarter")
practice_quarter = dg.MultiPartitionsDefinition({"practice": practices, "quarter": quarters})


def partition_key(practice_id: str, quarter: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"practice": practice_id, "quarter": quarter})


def practice_and_quarter(context: dg.AssetExecutionContext) -> tuple[str, str]:
    """The run's practice and quarter, checked before any path is built from them: a key added by
    hand in the UI can hold anything."""
    from omu.contract import PracticeIdError, checked_practice_id
    from omu.quarters import Quarter

    keys = context.partition_key.keys_by_dimension
    try:
        practice_id = checked_practice_id(keys["practice"], "partition key 'practice'")
        quarter = str(Quarter.parse(keys["quarter"]))
    except (PracticeIdError, ValueError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    return practice_id, quarter
