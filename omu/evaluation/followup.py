"""Did the referral arrive? Follow-ups of referred patients (`aangekomen`: ja / nee / onbekend, with a date).

A practice hands them back with `omu outcomes import`, in a later quarter: on the referral's own row
of that quarter's outreach.xlsx (added columns Aangekomen and Datum aangekomen) or on the sheet
"Vervolg verwijzingen" that every later outreach.xlsx carries with the referred patients whose
arrival is still unknown. Checked (sql/evaluation/followup_check.sql) together with the outcomes
of the same file: all or nothing. Stored in table referral_followups.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from openpyxl import load_workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from omu.file_writing import atomic_path
from omu.sql import query, register_temp_table, run_sql

ARRIVED = ("ja", "nee", "onbekend")
FOLLOWUP_SHEET = "Vervolg verwijzingen"
FIELDS = ("practice_id", "quarter", "patient_id", "arrived", "arrived_on")
# header (lower case) -> field; the Dutch headers are those of the sheet and of the list's added columns
HEADERS = {
    "patiënt (pseudoniem)": "patient_id",
    "patient_id": "patient_id",
    "kwartaal": "quarter",
    "quarter": "quarter",
    "praktijk": "practice_id",
    "practice_id": "practice_id",
    "aangekomen": "arrived",
    "arrived": "arrived",
    "datum aangekomen": "arrived_on",
    "arrived_on": "arrived_on",
}
SHEET_COLUMNS = (  # (header, width, fill in)
    ("Patiënt (pseudoniem)", 22, False),
    ("Kwartaal", 10, False),
    ("Verwezen naar", 22, False),
    ("Datum contact", 13, False),
    ("Aangekomen", 13, True),
    ("Datum aangekomen", 15, True),
    ("Praktijk", 9, False),
)


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    run_sql(conn, "evaluation/schema")


def pending_followups(conn: duckdb.DuckDBPyConnection, *, practice_id: str, quarter: str) -> pl.DataFrame:
    prepare(conn)
    run_sql(conn, "outreach/schema")
    return query(conn, "evaluation/followup_pending", {"practice_id": practice_id, "quarter": quarter}).pl()


def add_followup_sheet(xlsx: Path, pending: pl.DataFrame, *, practice_id: str) -> int:
    """Add the sheet of referrals to follow up to a written outreach.xlsx; returns its rows."""
    book = load_workbook(xlsx)
    sheet = book.create_sheet(FOLLOWUP_SHEET, index=1)
    sheet.append([header for header, _, _ in SHEET_COLUMNS])
    for row in pending.iter_rows(named=True):  # writing cells: openpyxl has no bulk API
        sheet.append(
            [
                row["patient_id"],
                row["quarter"],
                row["referral_target"],
                row["outcome_date"],
                row["arrived"],
                None,
                practice_id,
            ]
        )
    for index, (_, width, fill_in) in enumerate(SHEET_COLUMNS, start=1):
        letter = get_column_letter(index)
        sheet.column_dimensions[letter].width = width
        cell = sheet.cell(row=1, column=index)
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        cell.fill = PatternFill("solid", fgColor="FFF6D5" if fill_in else "DDE6F0")
        for (data_cell,) in sheet.iter_rows(
            min_row=2, max_row=pending.height + 1, min_col=index, max_col=index
        ):
            if index in (4, 6):
                data_cell.number_format = "DD-MM-YYYY"
    last = max(pending.height + 1, 2) + 200
    choice = DataValidation(
        type="list",
        formula1='"' + ",".join(ARRIVED) + '"',
        allow_blank=True,
        showErrorMessage=True,
        errorTitle="Ongeldige keuze",
        error="Kies ja, nee of onbekend.",
        promptTitle="Aangekomen",
        prompt="Is de patiënt aangekomen waar hij naartoe is verwezen?",
    )
    choice.add(f"E2:E{last}")
    sheet.add_data_validation(choice)
    sheet.freeze_panes = "A2"
    if "Toelichting" in book.sheetnames:
        book["Toelichting"].append(
            (
                FOLLOWUP_SHEET,
                "Verwezen patiënten van eerdere lijsten van wie nog niet bekend is of ze zijn "
                "aangekomen. Vul Aangekomen in (ja, nee of onbekend) met de datum (bij ja: de "
                "datum van aankomst) en lees het bestand terug met omu outcomes import.",
            )
        )
    with atomic_path(xlsx) as temporary:
        book.save(temporary)
    return pending.height


def read_followup_rows(path: Path) -> pl.DataFrame:
    """The follow-up sheet of an xlsx as text (row_no = the row in the sheet), or no rows."""
    empty = pl.DataFrame(schema={"row_no": pl.Int64, "sheet": pl.String} | {f: pl.String for f in FIELDS})
    if Path(path).suffix.lower() not in (".xlsx", ".xlsm"):
        return empty
    book = load_workbook(path, read_only=True)
    if FOLLOWUP_SHEET not in book.sheetnames:
        return empty
    rows = list(book[FOLLOWUP_SHEET].iter_rows(values_only=True))
    if len(rows) < 2:
        return empty
    header = [str(h or "").strip().lower() for h in rows[0]]

    def text(value: object) -> str | None:  # dates arrive as datetimes from Excel cells: ISO text
        if value is None:
            return None
        return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)

    columns = {
        HEADERS[h]: [text(row[i] if i < len(row) else None) for row in rows[1:]]
        for i, h in enumerate(header)
        if h in HEADERS
    }
    frame = pl.DataFrame(columns, schema={k: pl.String for k in columns})
    frame = frame.with_columns(pl.lit(None, pl.String).alias(f) for f in FIELDS if f not in frame.columns)
    return frame.with_row_index("row_no", offset=2).select(
        pl.col("row_no").cast(pl.Int64), pl.lit(FOLLOWUP_SHEET).alias("sheet"), *FIELDS
    )


@dataclass(frozen=True)
class FollowupCheck:
    problems: pl.DataFrame  # row_no, sheet, column, value, problem (empty: the follow-ups may be stored)
    ready: pl.DataFrame  # practice_id, quarter, patient_id, arrived, arrived_on, is_new, is_changed


def check_followups(
    conn: duckdb.DuckDBPyConnection, rows: pl.DataFrame, *, practice: str | None, handed_back: pl.DataFrame
) -> FollowupCheck:
    """The follow-ups of a file, checked. handed_back: the outcomes of the same file as checked
    (practice_id, quarter, patient_id, outcome): a referral may be handed back in the very file
    that follows it up."""
    prepare(conn)
    register_temp_table(conn, "incoming_followups", rows.select("row_no", "sheet", *FIELDS))
    register_temp_table(
        conn, "handed_back_outcomes", handed_back.select("practice_id", "quarter", "patient_id", "outcome")
    )
    run_sql(conn, "common/handback")
    run_sql(conn, "evaluation/followup_check", {"practice": practice, "answers": list(ARRIVED)})
    return FollowupCheck(conn.table("followup_problems").pl(), conn.table("followup_ready").pl())
