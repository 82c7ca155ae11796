"""Check one delivery (landing/<practice_id>/<quarter>/) against the HIS extract contract.

The check reads, types, quarantines and validates the delivery *outside* the store, staging
what would load as Parquet in a folder of its own. Loading (load.py) is then one short
transaction of the single writer. `omu validate` runs only this part.

Order: manifest -> read every file -> direct identifiers (refuse) -> type and quarantine in SQL
(sql/ingest/) -> row accounting -> Great Expectations on the staged rows. `stage_delivery` does
all but the last step, so that a batch of deliveries is validated by Great Expectations at once
(`validate_staged_checks`); `check_delivery` is both for one delivery.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from omu import contract
from omu.contract import FILES, FILES_BY_NAME, checked_practice_id
from omu.ingest import identifiers
from omu.ingest.expectations import StagedDelivery, validate_each
from omu.ingest.findings import Finding
from omu.ingest.manifest import Manifest, check_manifest, read_manifest
from omu.ingest.reading import LINE, ReadFile, UnreadableFile, read_delivery_csv
from omu.ingest.typing import type_file
from omu.quarters import Quarter
from omu.sql import run_sql, set_variables


@dataclass
class FileAccount:
    name: str
    rows_in_manifest: int | None = None
    rows_loaded: int = 0
    rows_quarantined: int = 0
    encoding: str | None = None
    separator: str | None = None
    ignored_columns: list[str] = field(default_factory=list)

    @property
    def balanced(self) -> bool:
        return self.rows_in_manifest == self.rows_loaded + self.rows_quarantined


@dataclass
class DeliveryCheck:
    delivery_dir: Path
    practice_id: str | None
    quarter: str | None
    manifest: Manifest | None
    refusals: list[Finding] = field(default_factory=list)
    files: dict[str, FileAccount] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=lambda: empty_quarantine())
    stage_dir: Path | None = None
    validation: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> bool:
        return not self.refusals

    @property
    def manifest_sha256(self) -> str | None:
        return self.manifest.sha256 if self.manifest else None

    @property
    def refusal_reason(self) -> str | None:
        if self.accepted:
            return None
        shown = "\n".join(f"- {finding}" for finding in self.refusals[:20])
        more = f"\n- ... and {len(self.refusals) - 20} more" if len(self.refusals) > 20 else ""
        return f"Delivery refused; nothing of it was loaded.\n{shown}{more}"

    def quarantine_by_reason(self) -> pl.DataFrame:
        if self.quarantine.is_empty():
            return pl.DataFrame(
                {"file": [], "reason": [], "rows": []},
                schema={"file": pl.String, "reason": pl.String, "rows": pl.Int64},
            )
        return (
            self.quarantine.group_by("file", "reason")
            .agg(rows=pl.col(LINE).n_unique().cast(pl.Int64))
            .sort("file", "rows", descending=[False, True])
        )


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            "file": pl.String,
            LINE: pl.Int64,
            "column": pl.String,
            "value": pl.String,
            "reason": pl.String,
        }
    )


def delivery_location(delivery_dir: Path) -> tuple[str | None, str | None]:
    """landing/<practice_id>/<quarter>/ -> (practice_id, quarter); None where the folder says nothing."""
    try:
        quarter = str(Quarter.parse(delivery_dir.name))
    except ValueError:
        return None, None
    return checked_practice_id(delivery_dir.parent.name, f"landing folder {delivery_dir.parent}"), quarter


def contract_variables(manifest: Manifest) -> dict[str, Any]:
    return {
        "patient_id_pattern": contract.PATIENT_ID_PATTERN,
        "wijk_code_pattern": contract.WIJK_CODE_PATTERN,
        "pc4_pattern": contract.PC4_PATTERN,
        "icpc_pattern": contract.ICPC_PATTERN,
        "atc_pattern": contract.ATC_PATTERN,
        "integer_pattern": contract.INTEGER_PATTERN,
        "number_pattern": contract.NUMBER_PATTERN,
        "iso_date_pattern": contract.ISO_DATE_PATTERN,
        "dutch_date_pattern": contract.DUTCH_DATE_PATTERN,
        "sexes": list(contract.SEXES),
        "sex_aliases": contract.SEX_ALIASES,
        "end_reasons": list(contract.END_REASONS),
        "extracted_on": manifest.extracted_on,
    }


def check_delivery(
    delivery_dir: Path, stage_dir: Path, *, previous_key_id: str | None = None
) -> DeliveryCheck:
    """Check a delivery and stage what would load in stage_dir. Never touches the store."""
    check = stage_delivery(delivery_dir, stage_dir, previous_key_id=previous_key_id)
    validate_staged_checks([check])
    return check


def stage_delivery(
    delivery_dir: Path, stage_dir: Path, *, previous_key_id: str | None = None
) -> DeliveryCheck:
    """Every step of check_delivery but Great Expectations: the rows that would load are staged
    in stage_dir (if nothing refused the delivery) for validate_staged_checks."""
    delivery_dir = Path(delivery_dir)
    practice_id, quarter = delivery_location(delivery_dir)
    manifest, findings = read_manifest(delivery_dir)
    check = DeliveryCheck(delivery_dir, practice_id, quarter, manifest, refusals=findings)
    if manifest is None or findings:
        return check
    check.practice_id = check.practice_id or manifest.practice_id
    check.quarter = check.quarter or manifest.quarter
    check.refusals += check_manifest(
        manifest,
        delivery_dir,
        expected_practice=practice_id,
        expected_quarter=quarter,
        previous_key_id=previous_key_id,
    )
    if any(
        f.column in ("extracted_on", "contract_version") and f.file == contract.MANIFEST
        for f in check.refusals
    ):
        return check  # rows cannot be judged without a valid extraction date and contract

    read_files = _read_files(check, delivery_dir, manifest)
    with duckdb.connect() as conn:
        check.refusals += _direct_identifiers(conn, read_files)
        if not check.accepted:
            return check
        _type_and_quarantine(conn, check, read_files, manifest, stage_dir)
    return check


def validate_staged_checks(checks: Sequence[DeliveryCheck]) -> None:
    """Great Expectations on the staged rows of every still accepted check, in one validation;
    a check whose rows break an expectation gets its refusals, the others their results."""
    _validate_staged([check for check in checks if check.accepted])


def _read_files(check: DeliveryCheck, delivery_dir: Path, manifest: Manifest) -> dict[str, ReadFile]:
    read_files: dict[str, ReadFile] = {}
    for file in FILES:
        path = delivery_dir / file.name
        if not path.is_file():
            continue  # a missing required file is already a manifest finding
        try:
            read = read_delivery_csv(path)
        except UnreadableFile as error:
            check.refusals.append(Finding(file.name, 1, None, str(error).removeprefix(f"{file.name}: ")))
            continue
        read_files[file.name] = read
        account = FileAccount(
            file.name, manifest.rows(file.name), encoding=read.encoding, separator=read.separator
        )
        check.files[file.name] = account
        if account.rows_in_manifest is not None and account.rows_in_manifest != read.data_rows:
            check.refusals.append(
                Finding(
                    file.name,
                    None,
                    None,
                    f"the manifest says {account.rows_in_manifest} rows, the file has {read.data_rows}: "
                    "the file is incomplete or the manifest is wrong; deliver both again",
                )
            )
        for column in file.columns:
            if column.name not in read.header and column.required:
                check.refusals.append(
                    Finding(
                        file.name,
                        1,
                        column.name,
                        f"the required column {column.name} is missing from the header "
                        f"(found: {', '.join(read.original_header)})",
                    )
                )
        account.ignored_columns = [name for name in read.header if name not in file.column_names]
        if account.ignored_columns:
            check.warnings.append(
                f"{file.name}: columns outside the contract are ignored: {', '.join(account.ignored_columns)}"
            )
    return read_files


FIELD = "field "  # the column of a malformed line's field: 'field 5'


def _direct_identifiers(conn: duckdb.DuckDBPyConnection, read_files: dict[str, ReadFile]) -> list[Finding]:
    """Every column name, every value and every field of a malformed line, scanned set-based in SQL
    by the rules of the column's scope (omu/ingest/identifiers.py)."""
    columns = pl.DataFrame(
        [
            (name, column, column in FILES_BY_NAME[name].column_names)
            for name, read in read_files.items()
            for column in read.header
        ],
        schema={"file": pl.String, "column": pl.String, "in_contract": pl.Boolean},
        orient="row",
    )
    # Each distinct value of a column is judged once (with its first line and number of lines):
    # a delivery repeats its patient_ids, dates and codes on many lines.
    value_frames = [
        read.rows.select(pl.col(LINE), pl.col(column).alias("value"))  # a column may be 'value'
        .drop_nulls("value")
        .group_by("value")
        .agg(pl.col(LINE).min(), pl.len().cast(pl.Int64).alias("n"))
        .select(
            LINE,
            column=pl.lit(column),
            scope=pl.lit(identifiers.scope(name, column)),
            value="value",
            file=pl.lit(name),
            n="n",
        )
        for name, read in read_files.items()
        for column in read.rows.columns
        if column != LINE
    ] + [malformed_fields(name, read) for name, read in read_files.items()]
    values = (
        pl.concat(value_frames, how="vertical_relaxed")
        if value_frames
        else pl.DataFrame(
            schema={
                LINE: pl.Int64,
                "column": pl.String,
                "scope": pl.String,
                "value": pl.String,
                "file": pl.String,
                "n": pl.Int64,
            }
        )
    )
    conn.register("raw_columns", columns)
    conn.register("raw_values", values)
    identifiers.prepare(conn)
    run_sql(conn, "ingest/direct_identifiers")
    found = conn.sql(
        """SELECT file, "column", kind, min(line) AS first_line, sum(n)::BIGINT AS n
           FROM direct_identifier_findings GROUP BY ALL ORDER BY file, first_line, "column" """
    ).fetchall()
    return [
        Finding(
            file,
            first_line,
            column,
            ("this field of a malformed line " if column.startswith(FIELD) else "")
            + f"looks like {kind}, a direct identifier (value not shown"
            + (f"; {n} such values in this column" if n > 1 else "")
            + "). omu accepts pseudonymised extracts only: remove it from the export and deliver again.",
        )
        for file, column, kind, first_line, n in found
    ]


def malformed_fields(name: str, read: ReadFile) -> pl.DataFrame:
    """The fields of the file's malformed lines, one by one, as 'field <n>' (their column is unknown)."""
    return (
        read.malformed.select(LINE, value=pl.col("text").str.split(read.separator))
        .with_columns(position=pl.int_ranges(1, pl.col("value").list.len() + 1))
        .explode("value", "position")
        .with_columns(pl.col("value").str.strip_chars().str.strip_chars('"').str.strip_chars())
        .filter(pl.col("value") != "")
        .select(
            LINE,
            column=pl.lit(FIELD) + pl.col("position").cast(pl.String),
            scope=pl.lit("field"),
            value="value",
            file=pl.lit(name),
            n=pl.lit(1, pl.Int64),
        )
    )


def _type_and_quarantine(
    conn: duckdb.DuckDBPyConnection,
    check: DeliveryCheck,
    read_files: dict[str, ReadFile],
    manifest: Manifest,
    stage_dir: Path,
) -> None:
    set_variables(conn, contract_variables(manifest))
    run_sql(conn, "ingest/macros")
    for file in FILES:
        read = read_files.get(file.name)
        rows = read.rows if read is not None else pl.DataFrame()
        # absent optional columns (or an absent optional file) read as all-missing
        raw = rows.with_columns(
            pl.lit(None, pl.String).alias(name) for name in file.column_names if name not in rows.columns
        ).select(LINE if LINE in rows.columns else pl.lit(None, pl.Int64).alias(LINE), *file.column_names)
        conn.register(f"raw_{file.table}_frame", raw)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE raw_{file.table} AS SELECT * FROM raw_{file.table}_frame")
        type_file(conn, file)  # its own sql/ingest/<table>.sql, or typing made from its entry
        run_sql(conn, "ingest/quarantine_table", {"file": file.name}, table=file.table)
    malformed = [
        read.malformed.select(pl.lit(name).alias("file"), LINE, "reason")  # never the line's text
        for name, read in read_files.items()
    ]
    conn.register(
        "malformed_lines",
        pl.concat(malformed)
        if malformed
        else pl.DataFrame(schema={"file": pl.String, LINE: pl.Int64, "reason": pl.String}),
    )
    identifiers.prepare(conn)  # quarantine.sql withholds values that look like identifiers
    run_sql(conn, "ingest/quarantine", {"contract_tables": [file.table for file in FILES]})

    for file_name, loaded, quarantined in conn.sql(
        "SELECT file, loaded, quarantined FROM file_accounts"
    ).fetchall():
        account = check.files.get(file_name)
        if account is None:
            continue
        account.rows_loaded, account.rows_quarantined = loaded, quarantined
        if not account.balanced:
            check.refusals.append(
                Finding(
                    file_name,
                    None,
                    None,
                    f"row accounting failed: {loaded} loaded + {quarantined} quarantined "
                    f"!= {account.rows_in_manifest} in the manifest (an omu error)",
                )
            )
    check.quarantine = conn.sql(
        'SELECT file, line, "column", value, reason FROM quarantined ORDER BY file, line, "column"'
    ).pl()

    if stage_dir.exists():
        shutil.rmtree(stage_dir)
    stage_dir.mkdir(parents=True)
    for file in FILES:
        conn.table(f"accepted_{file.table}").write_parquet(str(stage_dir / f"{file.table}.parquet"))
    check.quarantine.write_parquet(stage_dir / "quarantine.parquet")
    check.stage_dir = stage_dir


def _validate_staged(checks: list[DeliveryCheck]) -> None:
    """One validation of the batch (validate_each): only those whose own rows fail are refused,
    with the same reasons as if they had come alone."""
    for check, validation in zip(checks, validate_each([_staged(check) for check in checks]), strict=True):
        _judge(check, validation)


def _staged(check: DeliveryCheck) -> StagedDelivery:
    assert check.stage_dir is not None and check.manifest is not None
    return StagedDelivery(check.stage_dir, check.manifest.extracted_on)


def _judge(check: DeliveryCheck, validation: dict[str, Any]) -> None:
    check.validation = validation
    for file_name, summary in validation.items():
        for expectation in summary["expectations"]:
            if not expectation["success"]:
                check.refusals.append(
                    Finding(
                        file_name,
                        None,
                        expectation["column"],
                        f"Great Expectations: {expectation['description'] or expectation['expectation']} failed on "
                        f"the rows about to load ({expectation['error'] or expectation['unexpected_count']}); "
                        "nothing was loaded. This is an omu error: please report it.",
                    )
                )


__all__ = [
    "DeliveryCheck",
    "FileAccount",
    "check_delivery",
    "delivery_location",
    "stage_delivery",
    "validate_staged_checks",
    "FILES_BY_NAME",
]
