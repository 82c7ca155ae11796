"""`omu outcomes import`: outcomes handed back by the practice, in the filled-in xlsx or a CSV.

All or nothing: one bad row (unknown patient, unknown outcome, wrong practice, ...) refuses the
whole file with a message naming its row and column; importing the same file twice changes
nothing. The checks are SQL (sql/outreach/import_check.sql).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from omu import audit
from omu.evaluation import followup
from omu.ingest import identifiers
from omu.ingest.reading import LINE, UnreadableFile, read_delivery_csv
from omu.outreach.list_files import BASELINE_SHEET, HEADER_TO_KEY, LIST_SHEET, column_header
from omu.outreach.lists import prepare_outreach_tables
from omu.sql import register_temp_table, run_sql, run_sql_in_transaction

# profile: "omu-basis v1" as the list's column Profiel writes it; the import knows the list from it
FIELDS = (
    "practice_id",
    "quarter",
    "patient_id",
    "outcome",
    "referral_target",
    "outcome_date",
    "note",
    "profile",
)
ALIASES = {
    "referral target": "referral_target",
    "target": "referral_target",
    "date": "outcome_date",
    "practice": "practice_id",
    "notes": "note",
    "patient": "patient_id",
    "profiel": "profile",
    # a referral's follow-up on its own row (columns added by the practice): omu.evaluation.followup
    "aangekomen": "arrived",
    "arrived": "arrived",
    "datum aangekomen": "arrived_on",
    "arrived_on": "arrived_on",
}
FOLLOWUP_ON_ROW = ("arrived", "arrived_on")


class OutcomeFileError(ValueError):
    """The file is refused as a whole; the message names rows and columns."""


@dataclass
class ImportSummary:
    new: int
    changed: int
    unchanged: int
    skipped_blank: int
    followups: int = 0  # referral follow-ups new or changed


def _key(header: str) -> str | None:
    name = header.strip().lower()
    return HEADER_TO_KEY.get(name) or ALIASES.get(name)


def read_outcome_file(
    path: Path,
    fields: tuple[str, ...] = FIELDS + FOLLOWUP_ON_ROW,
    required: tuple[str, ...] = ("patient_id", "outcome"),
) -> pl.DataFrame:
    """The file's rows as text in the fields above, with row_no = the row in the file (header = 1).
    Other fields (e.g. the exclusion columns for `omu exclusions import`) read the same way."""
    path = Path(path)
    if not path.is_file():
        raise OutcomeFileError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        sheets = openpyxl.load_workbook(path, read_only=True).sheetnames
        sheet = next((s for s in (LIST_SHEET, BASELINE_SHEET) if s in sheets), sheets[0])
        frame = pl.read_excel(path, sheet_name=sheet, engine="openpyxl", infer_schema_length=0)
        frame = frame.with_row_index("row_no", offset=2).with_columns(pl.col("row_no").cast(pl.Int64))
        # dates arrive as datetimes from Excel cells; keep them as ISO text for the SQL checks
        frame = frame.with_columns(
            pl.col(c).str.slice(0, 10) if frame.schema[c] == pl.String else pl.col(c).cast(pl.String)
            for c in frame.columns
            if _key(c) in ("outcome_date", "exclusion_until", "arrived_on")
        )
    elif path.suffix.lower() in (".csv", ".txt"):
        try:
            read = read_delivery_csv(path)
        except UnreadableFile as error:
            raise OutcomeFileError(str(error)) from error
        if read.malformed.height:
            line = read.malformed[LINE][0]
            raise OutcomeFileError(f"{path.name}, row {line}: {read.malformed['reason'][0]}")
        frame = read.rows.rename({LINE: "row_no"})
    else:
        raise OutcomeFileError(f"{path.name}: expected the outreach .xlsx or a .csv")
    renamed = {
        c: key for c in frame.columns if c != "row_no" and (key := _key(c)) is not None and key in fields
    }
    if not set(required) <= set(renamed.values()):
        raise OutcomeFileError(
            f"{path.name}, row 1: needs the columns {' and '.join(required)} "
            f"(or {' and '.join(column_header(k) for k in required)}); "
            f"found {', '.join(frame.columns)}"
        )
    frame = frame.select("row_no", *(pl.col(c).cast(pl.String).alias(k) for c, k in renamed.items()))
    return frame.with_columns(pl.lit(None, pl.String).alias(f) for f in fields if f not in frame.columns)


def import_outcomes(
    conn: duckdb.DuckDBPyConnection, path: Path, *, practice: str | None = None, quarter: str | None = None
) -> ImportSummary:
    frame = read_outcome_file(path)
    if quarter:
        frame = frame.with_columns(pl.col("quarter").fill_null(quarter))
    prepare_outreach_tables(conn)
    identifiers.prepare(conn)
    conn.register("incoming_frame", frame.select("row_no", *FIELDS))
    conn.execute("CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM incoming_frame")
    conn.unregister("incoming_frame")
    run_sql(conn, "common/handback")
    run_sql(conn, "outreach/import_check", {"practice": practice})
    counts = conn.table("import_ready").pl()
    outcome_problems = conn.table("import_problems").pl()
    on_row = frame.select("row_no", pl.lit(None, pl.String).alias("sheet"), *followup.FIELDS)
    followup_rows = pl.concat([on_row, followup.read_followup_rows(path)])
    followups = followup.check_followups(conn, followup_rows, practice=practice, handed_back=counts)
    problems = pl.concat(
        [outcome_problems.with_columns(pl.lit(None, pl.String).alias("sheet")), followups.problems],
        how="diagonal",
    )
    if problems.height:
        shown = "\n".join(
            f"- {Path(path).name}{', sheet ' + row['sheet'] if row['sheet'] else ''}, row {row['row_no']}, "
            f"column {row['column']}: {row['problem']}"
            # a pseudonym or a note is never echoed: error messages carry no patient-level value
            + (
                f" (value {row['value']!r})"
                if row["value"] and row["column"] not in ("patient_id", "note")
                else ""
            )
            for row in problems.head(20).iter_rows(named=True)
        )
        more = f"\n- ... and {problems.height - 20} more" if problems.height > 20 else ""
        raise OutcomeFileError(f"{Path(path).name} refused; no outcome was imported:\n{shown}{more}")
    stored_followups = followups.ready.filter(pl.col("is_new") | pl.col("is_changed")).height
    # no access log entry, no import (raises audit.AuditError)
    audit.record(
        conn,
        "outcomes_imported",
        practice_id=_one_or_all(counts["practice_id"]),
        quarter=_one_or_all(counts["quarter"]),
        patients=counts.select("practice_id", "patient_id").n_unique(),
        detail=Path(path).name,
    )
    # the follow-ups as checked, for the write (import_ready: this function's own check above)
    register_temp_table(conn, "followup_ready", followups.ready)
    run_sql_in_transaction(
        conn,
        ["outreach/import_write", "evaluation/followup_write"],
        {"source_file": f"{Path(path).name} @ {dt.datetime.now():%Y-%m-%d %H:%M}"},
    )
    new = int(counts["is_new"].sum()) if counts.height else 0
    changed = int(counts["is_changed"].sum()) if counts.height else 0
    return ImportSummary(
        new=new,
        changed=changed,
        unchanged=counts.height - new - changed,
        skipped_blank=frame.height - counts.height,
        followups=stored_followups,
    )


def _one_or_all(values: pl.Series) -> str | None:
    """The practice (quarter) of an imported file, or all of them comma-separated."""
    found = sorted(values.drop_nulls().unique().to_list())
    return ", ".join(found) if found else None
