"""Hand-made delivery tables for specification tests: rows in, contract-typed frames out."""

from __future__ import annotations

import polars as pl

SCHEMAS = {
    "patients.csv": {
        "patient_id": pl.String,
        "birth_year": pl.Int64,
        "birth_month": pl.Int64,
        "sex": pl.String,
        "wijk_code": pl.String,
        "pc4": pl.String,
        "registered_from": pl.Date,
        "registered_until": pl.Date,
        "end_reason": pl.String,
    },
    "episodes.csv": {"patient_id": pl.String, "icpc": pl.String, "start_date": pl.Date, "end_date": pl.Date},
    "prescriptions.csv": {
        "patient_id": pl.String,
        "atc": pl.String,
        "prescribed_on": pl.Date,
        "quantity": pl.Float64,
        "duration_days": pl.Int64,
    },
    "determinations.csv": {
        "patient_id": pl.String,
        "code": pl.Int64,
        "measured_on": pl.Date,
        "value": pl.String,
    },
    "contacts.csv": {"patient_id": pl.String, "contact_on": pl.Date, "kind": pl.String},
}


def delivery_tables(**rows: list[tuple]) -> dict[str, pl.DataFrame]:
    """One frame per file named by keyword (patients=[...], episodes=[...], ...), each row a tuple
    in the contract's column order; an empty list gives an empty file."""
    return {
        f"{name}.csv": pl.DataFrame(table, orient="row", schema=SCHEMAS[f"{name}.csv"])
        for name, table in rows.items()
    }
