"""Partitions: one delivery = one practice and one quarter.

Both dimensions are dynamic: the landing sensor (or `omu run`) adds a practice or a quarter when
its first delivery appears, so the UI shows exactly the deliveries there are. Keys read
'P0001|2026Q3' (practice|quarter). Region-level assets are partitioned by quarter alone.

A run may hold a *batch*: a range of practices of one quarter (the partitions between two keys, in
the order the practices were added), so the set-based steps do their SQL once for many deliveries.
The per-delivery assets read their deliveries with `deliveries_of`, one or many alike.
"""

from __future__ import annotations

import dagster as dg

practices = dg.DynamicPartitionsDefinition(name="practice")
quarters = dg.DynamicPartitionsDefinition(name="quarter")
practice_quarter = dg.MultiPartitionsDefinition({"practice": practices, "quarter": quarters})


def partition_key(practice_id: str, quarter: str) -> dg.MultiPartitionKey:
    return dg.MultiPartitionKey({"practice": practice_id, "quarter": quarter})


RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def batch_tags(deliveries: list[tuple[str, str]]) -> dict[str, str]:
    """The run tags that make a run hold a batch: the first and last delivery of a range of
    practices of one quarter (the caller makes sure the range holds exactly these)."""
    first, last = deliveries[0], deliveries[-1]
    return {RANGE_START: f"{first[0]}|{first[1]}", RANGE_END: f"{last[0]}|{last[1]}"}


def deliveries_of(context: dg.AssetExecutionContext | dg.AssetCheckExecutionContext) -> list[tuple[str, str]]:
    """The run's deliveries (practice, quarter): one, or a batch. Each checked before any path is
    built from it: a key added by hand in the UI can hold anything."""
    from omu.contract import PracticeIdError, checked_practice_id

    op_context = context.op_execution_context
    try:
        keys = list(op_context.partition_keys)
    except dg.DagsterInvariantViolationError:  # a check run on its own, tagged with its deliveries
        if op_context.has_partition_key_range:
            keys = list(
                practice_quarter.get_partition_keys_in_range(
                    op_context.partition_key_range, dynamic_partitions_store=op_context.instance
                )
            )
        else:
            keys = [op_context.partition_key]
    deliveries = []
    for key in keys:
        practice, _, quarter = str(key).partition("|")  # dimensions in name order: practice|quarter
        try:
            deliveries.append(
                (checked_practice_id(practice, "partition key 'practice'"), _checked_quarter(quarter))
            )
        except (PracticeIdError, ValueError) as error:
            raise dg.Failure(str(error), allow_retries=False) from None
    return deliveries


def batch_label(deliveries: list[tuple[str, str]]) -> str:
    """'P0001 2026Q3' for one delivery, 'P0001..P0015 2026Q3 (15 practices)' for a batch."""
    if len(deliveries) == 1:
        return " ".join(deliveries[0])
    quarters = sorted({q for _, q in deliveries})
    return f"{deliveries[0][0]}..{deliveries[-1][0]} {', '.join(quarters)} ({len(deliveries)} practices)"


def quarter_of(context: dg.AssetExecutionContext) -> str:
    """The quarter of a region-level run, checked like deliveries_of's."""
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
