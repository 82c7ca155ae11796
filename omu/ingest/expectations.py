"""Great Expectations suites that state the HIS extract contract, run on every delivery.

They validate exactly what is about to enter the store: the staged Parquet files of a delivery,
after quarantine. A delivery whose staged rows break any expectation is not loaded, so the
store holds only rows that satisfy the contract — checked independently of the SQL that typed
and quarantined them. GX runs inside DuckDB (see gx_duckdb.py); its analytics are off.

GX's own ExpectColumnValuesToMatchRegex has no DuckDB implementation, so pattern rules are
stated as UnexpectedRowsExpectation queries with DuckDB's regexp_full_match.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
from pathlib import Path
from typing import Any

from omu.contract import FILES, ContractFile

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

TYPED_COLUMNS: dict[str, tuple[str, ...]] = {
    "patients.csv": ("patient_id", "birth_year", "birth_month", "sex", "wijk_code", "pc4",
                     "registered_from", "registered_until", "end_reason"),
    "episodes.csv": ("patient_id", "icpc", "start_date", "end_date"),
    "prescriptions.csv": ("patient_id", "atc", "prescribed_on", "quantity", "duration_days"),
    "determinations.csv": ("patient_id", "code", "measured_on", "value", "value_number"),
    "contacts.csv": ("patient_id", "contact_on", "kind"),
}


def _quote(text: str) -> str:
    """A SQL string literal, with braces doubled: GX formats {batch} into the query."""
    return "'" + text.replace("'", "''").replace("{", "{{").replace("}", "}}") + "'"


def _suite_expectations(file: ContractFile, stage_dir: Path, extracted_on: dt.date) -> list[Any]:
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
            expectations.append(gxe.ExpectColumnValuesToBeInSet(column=column.name, value_set=list(column.allowed)))
        if column.kind == "date":
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=column.name, min_value="1900-01-01", max_value=extracted_on.isoformat()
                )
            )
        if column.minimum is not None or column.maximum is not None:
            maximum = extracted_on.year if column.name == "birth_year" else column.maximum
            expectations.append(
                gxe.ExpectColumnValuesToBeBetween(column=column.name, min_value=column.minimum, max_value=maximum)
            )
    for column_name in file.unique:
        expectations.append(gxe.ExpectColumnValuesToBeUnique(column=column_name))
    if file.references_patients:
        patients = _quote(str(stage_dir / "patients.parquet"))
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


def validate_staged_delivery(stage_dir: Path, extracted_on: dt.date) -> dict[str, Any]:
    """Run the contract suites on the staged Parquet files; returns {file: summary}, JSON-ready."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    from omu.ingest.gx_duckdb import connection_string

    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_sql("staged_delivery", connection_string=connection_string(":memory:"))
    results: dict[str, Any] = {}
    for file in FILES:
        parquet = stage_dir / f"{file.table}.parquet"
        asset = source.add_query_asset(file.table, query=f"SELECT * FROM read_parquet({_quote(str(parquet))})")
        batch = asset.add_batch_definition_whole_table("delivery")
        suite = context.suites.add(gx.ExpectationSuite(name=f"his_contract_v1_{file.table}"))
        for expectation in _suite_expectations(file, stage_dir, extracted_on):
            suite.add_expectation(expectation)
        validation = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{file.table}", data=batch, suite=suite)
        )
        outcome = validation.run(result_format="SUMMARY")
        results[file.name] = summarise(outcome)
    # close GX's DuckDB connections now: left to interpreter exit they end in nanobind leak warnings
    source.get_execution_engine().close()
    source.get_engine().dispose()
    return results


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
