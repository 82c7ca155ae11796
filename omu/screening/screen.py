"""Screen practices: flags, score and score history in DuckDB SQL, driven by a profile.

Python chooses which SQL runs: the plan (which quarters from which delivery), the population,
one file per criterion type the profile uses, the score, and the history write. All of it is
set-based over every patient, quarter and practice in the work at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from omu.files import atomic_path
from omu.screening.profile import Profile
from omu.sql import fetch_one, query, run_sql, run_sql_in_transaction, set_variables


class ScreeningError(Exception):
    pass


@dataclass
class ScreenResult:
    quarters: list[str]
    rows: int
    over_threshold: int


def prepare_screening_store(conn: duckdb.DuckDBPyConnection, profile: Profile) -> None:
    """Score history, one boolean column per characteristic of the profile, and the screening view."""
    run_sql(conn, "common/quarters")
    run_sql(conn, "common/codes")
    run_sql(conn, "screening/schema")
    for characteristic_id in profile.characteristic_ids:  # ids are checked lower-case identifiers
        conn.execute(f'ALTER TABLE score_history ADD COLUMN IF NOT EXISTS "{characteristic_id}" BOOLEAN')
    run_sql(conn, "screening/view")


def register_profile(conn: duckdb.DuckDBPyConnection, profile: Profile) -> None:
    for table, frame in (
        ("profile_criteria", profile.criteria_frame()),
        ("profile_characteristics", profile.characteristics_frame()),
        ("codelist_codes", profile.codelist_frame()),
        ("profile_next_steps", profile.next_steps_frame()),
    ):
        conn.register(f"{table}_frame", frame)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM {table}_frame")
        conn.unregister(f"{table}_frame")
    set_variables(
        conn,
        {
            "profile_name": profile.name,
            "profile_version": profile.version,
            "threshold": profile.threshold,
            "backfill_quarters": profile.backfill_quarters,
            "characteristic_ids": list(profile.characteristic_ids),
        },
    )


def plan_work(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
) -> list[str]:
    """Tables screen_plan (every quarter to screen, from which delivery) and screen_work (the part
    computed from one delivery, or all of it); returns the work's quarters."""
    prepare_screening_store(conn, profile)
    register_profile(conn, profile)
    set_variables(conn, {"practice_id": practice_id, "source_quarter": source_quarter})
    run_sql(conn, "screening/plan")
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE screen_work AS SELECT * FROM screen_plan "
        "WHERE getvariable('source_quarter') IS NULL OR source_quarter = getvariable('source_quarter')"
    )
    return [q for (q,) in conn.execute("SELECT DISTINCT quarter FROM screen_work ORDER BY 1").fetchall()]


def screen(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str | None = None,
    source_quarter: str | None = None,
) -> ScreenResult:
    """Screen the planned quarters computed from one delivery (practice_id, source_quarter), or
    from every delivery in force when both are None. Writes score_history in one transaction."""
    quarters = plan_work(conn, profile, practice_id=practice_id, source_quarter=source_quarter)
    missing = conn.sql(
        "SELECT DISTINCT practice_id, source_quarter FROM screen_work w WHERE NOT EXISTS "
        "(SELECT 1 FROM patients p WHERE p.practice_id = w.practice_id AND p.quarter = w.source_quarter)"
    ).fetchall()
    if missing:
        listed = ", ".join(f"{p} {q}" for p, q in missing)
        raise ScreeningError(
            f"no delivery rows in the store for {listed}: load the delivery first "
            "(or its raw rows were dropped by the retention setting)"
        )
    run_sql(conn, "screening/population")
    run_criteria(conn, profile, keep_evidence=False)
    run_sql(conn, "screening/score")
    run_sql_in_transaction(conn, "screening/history")
    rows, over = fetch_one(conn, "SELECT count(*), count(*) FILTER (WHERE over_threshold) FROM scored")
    return ScreenResult(quarters, rows, over)


def run_criteria(conn: duckdb.DuckDBPyConnection, profile: Profile, *, keep_evidence: bool) -> None:
    """criterion_hits (and, when asked, criterion_evidence: the records behind each hit) for the
    population, one SQL file per criterion type; either_of last, from its criteria's hits."""
    set_variables(conn, {"keep_evidence": keep_evidence})
    types = profile.criterion_types
    for criterion_type in sorted(types - {"either_of"}) + sorted(types & {"either_of"}):
        run_sql(conn, f"screening/criteria/{criterion_type}")
        run_sql(conn, "screening/keep_evidence")


def screening_evidence(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str,
    quarter: str,
    patient_ids: list[str] | None = None,
    holding_only: bool = True,
) -> pl.DataFrame:
    """The records behind every characteristic that holds, for screened patients of one practice
    and quarter (all, or `patient_ids`): the criteria SQL of the screening itself, run again over
    those patients from the delivery their score came from, keeping what each hit counted.
    holding_only=False: also the hits of criteria whose characteristic does not hold (omu explain)."""
    prepare_screening_store(conn, profile)
    register_profile(conn, profile)
    set_variables(conn, {"practice_id": practice_id, "quarter": quarter})
    conn.execute(
        "CREATE OR REPLACE TEMP TABLE screen_work AS SELECT DISTINCT practice_id, quarter, source_quarter, "
        "backfilled, reference_date FROM score_history WHERE practice_id = getvariable('practice_id') "
        "AND quarter = getvariable('quarter') AND profile_name = getvariable('profile_name') "
        "AND profile_version = getvariable('profile_version')"
    )
    run_sql(conn, "screening/population")
    if patient_ids is not None:
        conn.register(
            "evidence_patients_frame",
            pl.DataFrame({"patient_id": patient_ids}, schema={"patient_id": pl.String}),
        )
        conn.execute(
            "DELETE FROM population WHERE patient_id NOT IN (SELECT patient_id FROM evidence_patients_frame)"
        )
        conn.unregister("evidence_patients_frame")
    run_criteria(conn, profile, keep_evidence=True)
    run_sql(conn, "screening/score", {"holding_only": holding_only})
    return conn.sql(
        "SELECT e.* FROM criterion_evidence AS e WHERE NOT getvariable('holding_only') OR EXISTS (SELECT 1 "
        "FROM characteristic_flags AS f WHERE f.practice_id = e.practice_id AND f.quarter = e.quarter "
        "AND f.patient_id = e.patient_id AND f.characteristic = e.characteristic) "
        "ORDER BY patient_id, characteristic, criterion_no, date DESC NULLS LAST, code"
    ).pl()


def screening_checks(conn: duckdb.DuckDBPyConnection, profile: Profile) -> dict[str, pl.DataFrame]:
    """The rows breaking each rule of a screening run (empty frames pass); after screen()."""
    set_variables(conn, {"characteristic_ids": list(profile.characteristic_ids)})
    run_sql(conn, "screening/checks")
    return {name: conn.table(f"check_{name}").pl() for name in ("screened_once", "score_sum", "first_time")}


def export_screening(
    conn: duckdb.DuckDBPyConnection, profile: Profile, practice_id: str, quarter: str, path: Path
) -> int:
    """Write one practice-quarter of the screening view to CSV; returns the rows written."""
    frame = query(
        conn,
        "screening/export",
        {
            "practice_id": practice_id,
            "quarter": quarter,
            "profile_name": profile.name,
            "profile_version": profile.version,
            "characteristic_ids": list(profile.characteristic_ids),
        },
    ).pl()
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as temporary:
        frame.write_csv(temporary)
    return frame.height
