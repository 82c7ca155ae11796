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

    keys = context.partition_key.keys_by_dimension
    try:
        practice_id = checked_practice_id(keys["practice"], "partition key 'practice'")
        quarter = _checked_quarter(keys["quarter"])
    except (PracticeIdError, ValueError) as error:
        raise dg.Failure(str(error), allow_retries=False) from None
    return practice_id, quarter


def quarter_of(context: dg.AssetExecutionContext) -> str:
    """The quarter of a region-level run, checked like practice_and_quarter's."""
    try:
        return _checked_quarter(context.partition_key)
    except ValueError as error:
        raise dg.Failure(str(error), allow_retries=False) from None


def _checked_quarter(key: str) -> str:
    """A quarter key exactly as omu writes it (2026Q3): it names folders, so no other spelling."""
    from omu.quarters import Quarter

    try:
        quarter = str(Quarter.parse(key))
    except ValueError:
        quarter = ""
    if quarter != key:
        raise ValueError(f"partition key 'quarter': {key!r} is not a quarter (expected e.g. 2026Q3)")
    return quarter
