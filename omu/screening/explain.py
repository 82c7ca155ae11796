"""Why is this patient on the list? Every characteristic with the records behind it."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl

from omu.screening.profile import Profile
from omu.screening.screen import prepare_screening_store, screening_evidence
from omu.sql import fetch_dicts


class NotScreened(LookupError):
    pass


@dataclass
class Explanation:
    screening: dict  # the patient's score_history row
    evidence: pl.DataFrame  # characteristic, criterion_no, record, code, value, date, until, quantity
    profile: Profile


def explain(
    conn: duckdb.DuckDBPyConnection, profile: Profile, *, practice_id: str, quarter: str, patient_id: str
) -> Explanation:
    prepare_screening_store(conn, profile)
    rows = fetch_dicts(
        conn,
        "SELECT * FROM screening WHERE practice_id = ? AND quarter = ? AND patient_id = ? "
        "AND profile_name = ? AND profile_version = ?",
        [practice_id, quarter, patient_id, profile.name, profile.version],
    )
    if not rows:
        raise NotScreened(
            f"the patient was not screened for practice {practice_id} in {quarter} under "
            f"{profile.name} v{profile.version} (not registered on the reference date, or the quarter is not run yet)"
        )
    row = rows[0]
    # the records each criterion counted: the screening's own criteria SQL, not a second reading
    evidence = screening_evidence(
        conn, profile, practice_id=practice_id, quarter=quarter, patient_ids=[patient_id], holding_only=False
    )
    return Explanation(row, evidence, profile)
