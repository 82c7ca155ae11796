"""Great Expectations suites that state the HIS extract contract, run on every delivery.

They validate exactly what is about to enter the store: the staged Parquet files of a delivery,
after quarantine. A delivery whose staged rows break any expectation is not loaded, so the
store holds only rows that satisfy the contract — checked independently of the SQL that typed
and quarantined them. GX runs inside DuckDB (see gx_duckdb.py); its analytics are off.

One validation covers a *batch* of staged deliveries (one or many): each file's rows of all of
them are read as one table with the columns `delivery` (the delivery's number in the batch),
`extracted_on` and `extraction_year` beside the staged ones. The suites are stated once for that
table: bounds that depend on the extraction date compare with the row's own `extracted_on`, and
uniqueness, references to patients and duplicates hold within a delivery. GX's fixed cost
(about 0.8 s per validation, mostly Python) is then paid once per batch.

GX's own ExpectColumnValuesToMatchRegex has no DuckDB implementation, so pattern rules are
stated as UnexpectedRowsExpectation queries with DuckDB's regexp_full_match.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import json
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omu.contract import FILES, ContractFile
from omu.sql import literal_path

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

TYPED_COLUMNS: dict[str, tuple[str, ...]] = {
    file.name: tuple(column.name for column in file.typed_columns) for file in FILES
}


def _quote(text: str) -> str:
    """A SQL string literal, with braces doubled: GX formats {batch} into the query."""
    return "'" + text.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


# The columns a batch adds to each staged file: which delivery a row is of, and its extraction date
DELIVERY = "delivery"
BATCH_COLUMNS = (DELIVERY, "extracted_on", "extraction_year")


@dataclass(frozen=True)
class StagedDelivery:
    """One delivery's staged Parquet folder (a file per table) and the extraction date its rows
    are judged by."""

    stage_dir: Path
    extracted_on: dt.date


def _batch_files(batch: Path, table: str) -> str:
    """DuckDB's read_parquet over one table of every delivery in the batch folder, whose
    sub-folders delivery=<n>/extracted_on=<date>/ (links to the stage folders) become columns."""
    pattern = _quote(f"{literal_path(batch)}/*/*/{literal_path(f'{table}.parquet')}")
    # Folder names read as text (no braces for hive_types: GX formats expectation queries). By
    # name: a column one delivery's file has and another's lacks shows in the batch's columns (the
    # one lacking it reads missing values); omu's SQL stages the same columns for every delivery.
    return (
        f"read_parquet({pattern}, hive_partitioning = true, hive_types_autocast = false, "
        "union_by_name = true)"
    )


def _batch_query(batch: Path, table: str) -> str:
    return (
        f"SELECT * REPLACE ({DELIVERY}::INTEGER AS {DELIVERY}, extracted_on::DATE AS extracted_on), "
        f"year(extracted_on::DATE) AS extraction_year FROM {_batch_files(batch, table)}"
    )


def _suite_expectations(file: ContractFile, batch: Path) -> list[Any]:
    import great_expectations.expectations as gxe

    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=[*BATCH_COLUMNS, "line", *TYPED_COLUMNS[file.name]], exact_match=True
        ),
    ]
    for column in file.columns:
        if column.required:
            expectations.append(gxe.ExpectColumnValuesToNotBeNull(column=column.name))
        if column.pattern:
            expectations.append(
                gxe.UnexpectedRowsExpectation(
                    unexpected_rows_query=(
                        f"SELECT * FROM {{batch}} WHERE {column.name} IS NOT NULL "
                        f"AND NOT regexp_full_match({column.name}, {_quote(column.pattern)})"
                    ),
                    description=f"{file.name}: {column.name} matches {column.pattern}",
                )
            )
        if column.allowed:
            expectations.append(
                gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.allowed))
            )
        if column.kind == "date":
            expectations += [
                # the bound as ISO text, compared in DuckDB's SQL (GX's annotation names dates only)
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value="1900-01-01"),  # type: ignore[arg-type]
                _not_after(file, column.name, "extracted_on"),  # the row's own delivery's date
            ]
        if column.name == "birth_year":
            expectations += [
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=column.minimum),
                _not_after(file, column.name, "extraction_year"),
            ]
        elif column.minimum is not None or column.maximum is not None:
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value=column.minimum, max_value=column.maximum
                )
            )
    for column_name in file.unique:  # within a delivery: practices' pseudonyms may coincide
        expectations.append(
            gxe.ExpectCompoundColumnsToBeUnique(
                column_list=[DELIVERY, column_name],
                description=f"{file.name}: {column_name} is unique within the delivery",
            )
        )
    if file.references_patients:
        expectations.append(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    f"SELECT * FROM {{batch}} WHERE patient_id IS NOT NULL AND ({DELIVERY}, patient_id) "
                    f"NOT IN (SELECT {DELIVERY}::INTEGER, patient_id FROM {_batch_files(batch, 'patients')})"
                ),
                description=f"{file.name}: every patient_id exists in patients.csv",
            )
        )
    data_columns = ", ".join([DELIVERY, *TYPED_COLUMNS[file.name]])
    expectations.append(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=f"SELECT {data_columns} FROM {{batch}} GROUP BY ALL HAVING count(*) > 1",
            description=f"{file.name}: no exact duplicate rows",
        )
    )
    return expectations


BOUNDS = {"extracted_on": "extraction date", "extraction_year": "extraction year"}


def _not_after(file: ContractFile, column: str, bound: str) -> Any:
    import great_expectations.expectations as gxe

    return gxe.ExpectColumnPairValuesAToBeGreaterThanB(
        column_A=bound,
        column_B=column,
        or_equal=True,
        ignore_row_if="either_value_is_missing",
        description=f"{file.name}: {column} is not after the delivery's {BOUNDS[bound]}",
    )


class _ContractValidator:
    """The GX context, suites and validation definitions, built once per process (building them
    costs about as much as running them). A batch's staged Parquet is reached through a
    per-process link that is pointed at a folder of the batch's own, holding one link per
    delivery, delivery=<n>/extracted_on=<date>/ -> its stage folder."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import ProgressBarsConfig

        from omu.ingest.gx_duckdb import connection_string

        logging.getLogger("great_expectations").setLevel(logging.ERROR)
        self.link = Path(tempfile.mkdtemp(prefix="omu-gx-")) / "staged"
        atexit.register(shutil.rmtree, self.link.parent, ignore_errors=True)
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False)
        self.source = context.data_sources.add_sql(
            "staged_delivery", connection_string=connection_string(":memory:")
        )
        self.validations = {}
        for file in FILES:
            asset = self.source.add_query_asset(file.table, query=_batch_query(self.link, file.table))
            suite = context.suites.add(gx.ExpectationSuite(name=f"his_contract_v1_{file.table}"))
            for expectation in _suite_expectations(file, self.link):
                suite.add_expectation(expectation)
            self.validations[file.name] = context.validation_definitions.add(
                gx.ValidationDefinition(
                    name=f"validate_{file.table}",
                    data=asset.add_batch_definition_whole_table("delivery"),
                    suite=suite,
                )
            )
        self.lock = threading.Lock()
        self.runs = 0

    def validate(self, deliveries: Sequence[StagedDelivery]) -> dict[str, Any]:
        if not deliveries:
            raise ValueError("a validation needs at least one staged delivery")
        with self.lock:
            batch = Path(tempfile.mkdtemp(prefix="batch-", dir=self.link.parent))
            for number, delivery in enumerate(deliveries):
                member = batch / f"{DELIVERY}={number}"
                member.mkdir()
                (member / f"extracted_on={delivery.extracted_on.isoformat()}").symlink_to(
                    Path(delivery.stage_dir).resolve(), target_is_directory=True
                )
            pointer = self.link.with_name("staged.next")
            pointer.unlink(missing_ok=True)
            pointer.symlink_to(batch, target_is_directory=True)
            os.replace(pointer, self.link)
            self.runs += 1
            try:
                return {
                    name: summarise(validation.run(result_format="SUMMARY")) | {"deliveries": len(deliveries)}
                    for name, validation in self.validations.items()
                }
            finally:
                # GX's DuckDB connections are closed after each batch (left to interpreter exit
                # they end in nanobind leak reports); the engine opens new ones next time.
                self.source.get_engine().dispose()
                shutil.rmtree(batch, ignore_errors=True)


@functools.cache
def _validator() -> _ContractValidator:
    return _ContractValidator()


def validate_staged_deliveries(deliveries: Sequence[StagedDelivery]) -> dict[str, Any]:
    """Run the contract suites once on the staged Parquet files of all these deliveries together;
    returns {file: summary} of the batch, JSON-ready, each summary with the number of
    `deliveries` it covers. A suite succeeds only if every delivery's rows meet it."""
    return _validator().validate(deliveries)


def validate_each(deliveries: Sequence[StagedDelivery]) -> list[dict[str, Any]]:
    """The suites' results for each delivery, in order: one validation of them all; only should
    it fail (an omu error, so rare), each delivery again on its own, so that a failure is its own
    delivery's and every delivery keeps its own results."""
    if not deliveries:
        return []
    batch = validate_staged_deliveries(deliveries)
    if len(deliveries) > 1 and not all(summary["success"] for summary in batch.values()):
        return [validate_staged_deliveries([delivery]) for delivery in deliveries]
    return [batch] * len(deliveries)


def validate_staged_delivery(stage_dir: Path, extracted_on: dt.date) -> dict[str, Any]:
    """The suites on one delivery's staged Parquet files (a batch of one)."""
    return validate_staged_deliveries([StagedDelivery(stage_dir, extracted_on)])


def validations_run() -> int:
    """How many validations (batches) this process has run: one per batch, however many
    deliveries it holds."""
    return _validator().runs if _validator.cache_info().currsize else 0


def summarise(outcome: Any) -> dict[str, Any]:
    expectations = []
    for result in outcome.results:
        config = result.expectation_config
        expectations.append(
            {
                "expectation": config.type,
                "column": _column_of(config.kwargs),
                "description": config.description,
                "success": bool(result.success),
                "unexpected_count": result.result.get("unexpected_count"),
                "observed_value": _jsonable(result.result.get("observed_value")),
                "error": _error_message(result.exception_info),
            }
        )
    return {
        "success": bool(outcome.success),
        "evaluated": len(expectations),
        "failed": sum(not e["success"] for e in expectations),
        "expectations": expectations,
    }


def _column_of(kwargs: dict[str, Any]) -> str | None:
    """The contract column an expectation judges (not the batch columns it compares with)."""
    if kwargs.get("column"):
        return kwargs["column"]
    if kwargs.get("column_B"):
        return kwargs["column_B"]
    columns = [c for c in kwargs.get("column_list") or [] if c not in BATCH_COLUMNS]
    return columns[0] if len(columns) == 1 else None


def _error_message(info: Any) -> str | None:
    """GX nests exception details either flat or per metric; return the first message."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return info.get("exception_message")
    for nested in info.values():
        if isinstance(nested, dict) and nested.get("raised_exception"):
            return nested.get("exception_message")
    return None


def _jsonable(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except TypeError:
        return str(value)
