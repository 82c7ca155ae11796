"""Hand-made delivery tables for specification tests: rows in, contract-typed frames out."""

from __future__ import annotations

import polars as pl

from omu.contract import FILES

# the contract's column types (omu/contract.py), as polars writes them into a delivery
DTYPES = {"text": pl.String, "code": pl.String, "int": pl.Int64, "number": pl.Float64, "date": pl.Date}
SCHEMAS = {file.name: {column.name: DTYPES[column.kind] for column in file.columns} for file in FILES}


def delivery_tables(**rows: list[tuple]) -> dict[str, pl.DataFrame]:
    """One frame per file named by keyword (patients=[...], episodes=[...], ...), each row a tuple
    in the contract's column order; an empty list gives an empty file."""
    return {
        f"{name}.csv": pl.DataFrame(table, orient="row", schema=SCHEMAS[f"{name}.csv"])
        for name, table in rows.items()
    }
