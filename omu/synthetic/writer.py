"""Write one delivery (manifest.json + CSV files) exactly as the HIS extract contract describes it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path

import polars as pl

from omu.contract import CONTRACT_VERSION, FILES_BY_NAME, MANIFEST
from omu.quarters import Quarter
from omu.synthetic.dialects import Dialect

_DECIMAL = r"^(-?[0-9]+)\.([0-9]+)$"


def _ordered_columns(name: str, frame: pl.DataFrame) -> list[str]:
    """Contract columns present in the frame in contract order, then any other columns in frame order."""
    contract = FILES_BY_NAME.get(name)
    known = [c for c in contract.column_names if c in frame.columns] if contract else []
    return known + [c for c in frame.columns if c not in known]


def _as_text(name: str, column: str, dtype: pl.DataType, dialect: Dialect) -> pl.Expr:
    col = pl.col(column)
    if dtype == pl.Date:
        expr = col.dt.strftime(dialect.date_format)
    elif isinstance(dtype, pl.Datetime):
        expr = col.dt.date().dt.strftime(dialect.date_format)
    elif dtype.is_integer():
        expr = col.cast(pl.String)
    elif dtype.is_float():
        value = col.fill_nan(None)
        integral = value == value.round(0)
        expr = pl.when(integral).then(value.cast(pl.Int64).cast(pl.String)).otherwise(value.cast(pl.String))
        if dialect.decimal_comma:
            expr = expr.str.replace(".", ",", literal=True)
    else:
        expr = col.cast(pl.String)
        if column == "sex":
            expr = expr.replace({"V": dialect.female_code, "O": dialect.unknown_code})
        if dialect.decimal_comma and name == "determinations.csv" and column == "value":
            expr = expr.str.replace(_DECIMAL, "${1},${2}")
    # missing optional values are written as empty fields (never as a quoted "")
    return pl.when(expr == "").then(None).otherwise(expr).alias(dialect.header(column))


def render_csv(name: str, frame: pl.DataFrame, dialect: Dialect) -> bytes:
    """The bytes of one CSV file in the dialect: header + one line per row, the whole text encoded at once."""
    columns = _ordered_columns(name, frame)
    text_frame = frame.select(_as_text(name, c, frame.schema[c], dialect) for c in columns)
    text = text_frame.write_csv(
        separator=dialect.separator,
        line_terminator=dialect.line_ending,
        quote_style="necessary",
        null_value="",
        include_header=True,
    )
    return text.encode(dialect.encoding)  # 'utf-8-sig' writes the BOM; cp1252 refuses what it cannot hold


def write_delivery(
    delivery_dir: Path,
    *,
    practice_id: str,
    quarter: Quarter | str,
    extracted_on: dt.date,
    tables: Mapping[str, pl.DataFrame],
    dialect: Dialect,
    his_vendor: str | None = None,
    pseudonym_key_id: str = "ttp-2026-01",
    contract_version: int = CONTRACT_VERSION,
) -> Path:
    """Write the CSV files (keys like "patients.csv"; typed frames: dates as pl.Date, ints, floats/strings)
    in the dialect and a manifest.json with rows (data rows, header excluded) and sha256 of the bytes written.

    Missing optional values (nulls, empty strings) are written as empty fields. Any subset of files and columns
    is accepted (so tests can build deliberately incomplete deliveries); contract columns come first in contract
    order, other columns after them. The manifest is written last. Returns the delivery directory.
    """
    delivery_dir = Path(delivery_dir)
    delivery_dir.mkdir(parents=True, exist_ok=True)
    order = [name for name in FILES_BY_NAME if name in tables] + [n for n in tables if n not in FILES_BY_NAME]
    files: dict[str, dict[str, object]] = {}
    for name in order:
        frame = tables[name]
        data = render_csv(name, frame, dialect)
        (delivery_dir / name).write_bytes(data)
        files[name] = {"rows": frame.height, "sha256": hashlib.sha256(data).hexdigest()}
    manifest = {
        "contract_version": contract_version,
        "practice_id": practice_id,
        "quarter": str(quarter),
        "extracted_on": extracted_on.isoformat() if isinstance(extracted_on, dt.date) else str(extracted_on),
        "his_vendor": his_vendor if his_vendor is not None else dialect.vendor,
        "pseudonym_key_id": pseudonym_key_id,
        "files": files,
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"
    (delivery_dir / MANIFEST).write_bytes(text.encode("utf-8"))
    return delivery_dir
