"""`omu exclusions import`: the GP's exclusions, from an exclusions file or the list's own xlsx.

Columns patient_id (Patiënt (pseudoniem)), exclusion (Uitsluiten (huisarts): palliatief,
niet_benaderen, bezwaar, tijdelijk, or opgeheven to lift one), exclusion_until (Uitsluiten tot;
tijdelijk only) and practice_id (Praktijk, or --practice). All or nothing, like the outcomes:
one bad row refuses the file naming its row and column. Stored with who (--by) and when in table
`exclusions`; the checks are SQL (sql/exclusions/).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from omu.outreach.lists import EXCLUSION_LIFT, EXCLUSION_REASONS, prepare_outreach_tables
from omu.outreach.outcomes import OutcomeFileError, read_outcome_file
from omu.sql import run_sql, run_sql_in_transaction

FIELDS = ("practice_id", "patient_id", "exclusion", "exclusion_until")


class ExclusionFileError(OutcomeFileError):
    """The file is refused as a whole; the message names rows and columns."""


@dataclass
class ExclusionSummary:
    changed: int
    unchanged: int
    objections: int  # bezwaar: no longer screened, their derived data removed


def import_exclusions(
    conn: duckdb.DuckDBPyConnection, path: Path, *, recorded_by: str, practice: str | None = None
) -> ExclusionSummary:
    if not recorded_by.strip():
        raise ExclusionFileError("say who excludes (--by): the store keeps who and when")
    try:
        frame = read_outcome_file(path, fields=FIELDS, required=("patient_id", "exclusion"))
    except OutcomeFileError as error:
        raise ExclusionFileError(str(error)) from error
    run_sql(conn, "screening/schema")
    prepare_outreach_tables(conn)
    conn.register("incoming_frame", frame.select("row_no", *FIELDS))
    conn.execute("CREATE OR REPLACE TEMP TABLE incoming AS SELECT * FROM incoming_frame")
    conn.unregister("incoming_frame")
    run_sql(conn, "common/handback")
    run_sql(
        conn,
        "exclusions/import_check",
        {"practice": practice, "exclusion_values": [*EXCLUSION_REASONS, EXCLUSION_LIFT]},
    )
    problems = conn.table("exclusion_problems").pl()
    if problems.height:
        shown = "\n".join(
            f"- {Path(path).name}, row {row['row_no']}, column {row['column']}: {row['problem']}"
            # a pseudonym is never repeated in a message: the row and column name it
            + (f" (value {row['value']!r})" if row["value"] and row["column"] != "patient_id" else "")
            for row in problems.head(20).iter_rows(named=True)
        )
        more = f"\n- ... and {problems.height - 20} more" if problems.height > 20 else ""
        raise ExclusionFileError(f"{Path(path).name} refused; no exclusion was imported:\n{shown}{more}")
    ready = conn.table("exclusion_ready").pl()
    run_sql_in_transaction(
        conn,
        "exclusions/import_write",
        {
            "recorded_by": recorded_by.strip(),
            "source_file": f"{Path(path).name} @ {dt.datetime.now():%Y-%m-%d %H:%M}",
        },
    )
    changed = ready.filter(pl.col("is_change"))
    return ExclusionSummary(
        changed=changed.height,
        unchanged=ready.height - changed.height,
        objections=changed.filter(pl.col("reason") == "bezwaar").height,
    )
