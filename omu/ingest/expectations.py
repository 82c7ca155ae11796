"""Great Expectations suites that state the HIS extract contract, run on every delivery.

They validate exactly what is about to enter the store: the staged Parquet files of a delivery,
after quarantine. A delivery whose staged rows break any expectation is not loaded, so the
store holds only rows that satisfy the contract — checked independently of the SQL that typed
and quarantined them. GX runs inside DuckDB (see gx_duckdb.py); its analytics are off.

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


# The extraction date differs per delivery: a suite parameter, given when a delivery is validated.
EXTRACTED_ON = {"$PARAMETER": "extracted_on"}
EXTRACTION_YEAR = {"$PARAMETER": "extraction_year"}


def _suite_expectations(file: ContractFile, stage_dir: Path) -> list[Any]:
    import great_expectations.expectations as gxe

    expectations: list[Any] = [
        gxe.ExpectTableColumnsToMatchSet(column_set=["line", *TYPED_COLUMNS[file.name]], exact_match=True),
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
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value="1900-01-01", max_value=EXTRACTED_ON
                )
            )
        if column.minimum is not None or column.maximum is not None:
            maximum = EXTRACTION_YEAR if column.name == "birth_year" else column.maximum
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value=column.minimum, max_value=maximum
                )
            )
    for column_name in file.unique:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=column_name))
    if file.references_patients:
        patients = _quote(literal_path(stage_dir / "patients.parquet"))
        expectations.append(
            gxe.UnexpectedRowsExpectation(
                unexpected_rows_query=(
                    f"SELECT * FROM {{batch}} WHERE patient_id NOT IN "
                    f"(SELECT patient_id FROM read_parquet({patients}))"
                ),
                description=f"{file.name}: every patient_id exists in patients.csv",
            )
        )
    data_columns = ", ".join(TYPED_COLUMNS[file.name])
    expectations.append(
        gxe.UnexpectedRowsExpectation(
            unexpected_rows_query=f"SELECT {data_columns} FROM {{batch}} GROUP BY ALL HAVING count(*) > 1",
            description=f"{file.name}: no exact duplicate rows",
        )
    )
    return expectations


class _ContractValidator:
    """The GX context, suites and validation definitions, built once per process (building them
    costs about as much as running them). Each delivery's staged Parquet is reached through a
    per-process link that is pointed at the delivery's stage folder; its extraction date is a
    suite parameter."""

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
            parquet = self.link / f"{file.table}.parquet"
            asset = self.source.add_query_asset(
                file.table, query=f"SELECT * FROM read_parquet({_quote(literal_path(parquet))})"
            )
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

    def validate(self, stage_dir: Path, extracted_on: dt.date) -> dict[str, Any]:
        parameters = {"extracted_on": extracted_on.isoformat(), "extraction_year": extracted_on.year}
        with self.lock:
            pointer = self.link.with_name("staged.next")
            pointer.unlink(missing_ok=True)
            pointer.symlink_to(Path(stage_dir).resolve(), target_is_directory=True)
            os.replace(pointer, self.link)
            try:
                return {
                    name: summarise(
                        validation.run(expectation_parameters=parameters, result_format="SUMMARY")
                    )
                    for name, validation in self.validations.items()
                }
            finally:
                # GX's DuckDB connections are closed after each delivery (left to interpreter exit
                # they end in nanobind leak reports); the engine opens new ones next time.
                self.source.get_engine().dispose()


@functools.cache
def _validator() -> _ContractValidator:
    return _ContractValidator()


def validate_staged_delivery(stage_dir: Path, extracted_on: dt.date) -> dict[str, Any]:
    """Run the contract suites on the staged Parquet files; returns {file: summary}, JSON-ready."""
    return _validator().validate(stage_dir, extracted_on)


def summarise(outcome: Any) -> dict[str, Any]:
    expectations = []
    for result in outcome.results:
        config = result.expectation_config
        expectations.append(
            {
                "expectation": config.type,
                "column": config.kwargs.get("column"),
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
