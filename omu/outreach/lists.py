"""Build the outreach lists of a quarter for a batch of practices, or one (sql/outreach/), and read
them back for writing."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import duckdb
import polars as pl

from omu.reference import outcome_codes, referral_targets
from omu.screening.profile import Profile
from omu.screening.screen import prepare_screening_store, register_profile, screening_evidence
from omu.sql import fetch_dicts, register_temp_table, run_sql, run_sql_in_transaction

# The outcome values and the referral targets: one vocabulary each in clinical/reference/ (read by
# omu/reference.py), used by the lists' drop-downs, the outcome import's checks, the next list, the
# feedback, the evaluation and the dashboard (SQL gets them as variables).
OUTCOMES: tuple[str, ...] = tuple(outcome_codes())
REFERRAL_TARGETS: tuple[str, ...] = tuple(referral_targets()["code"])
REFERRAL_LABELS: dict[str, str] = dict(referral_targets().select("code", "label").iter_rows())
# why the GP keeps a patient off the lists (omu exclusions import); bezwaar also stops the screening
EXCLUSION_REASONS = ("palliatief", "niet_benaderen", "bezwaar", "tijdelijk")
EXCLUSION_LIFT = "opgeheven"  # lifts the exclusion in force (kept in the store like the others)
MAX_ATTEMPTS = 3  # listings without reaching the patient before they stop (sql/outreach/build.sql)

INCLUSION_LABELS = {
    "nieuw": "nieuw boven de drempel",
    "niet_bereikt": "eerder niet bereikt",
    "geen_uitkomst": "eerder op de lijst, geen uitkomst teruggemeld",
    "doorgeschoven": "doorgeschoven (capaciteit vorig kwartaal)",
    "baseline": "al eerder boven de drempel (startlijst)",
    "na_uitsluiting": "weer benaderbaar: de uitsluiting door de huisarts is voorbij",
}


@dataclass
class BuiltLists:
    outreach: pl.DataFrame  # listed rows, in rank order
    carried_over: int  # candidates beyond capacity, rolled to next quarter
    baseline: pl.DataFrame
    has_risk_model: bool
    is_first_quarter: bool
    excluded: int = 0  # patients the GP excluded on the quarter's reference date (a number only)


def prepare_outreach_tables(conn: duckdb.DuckDBPyConnection) -> None:
    """The outreach tables; a store made before the outcome values and referral targets were one
    vocabulary each (clinical/reference/) has them fixed in CHECKs on outreach_outcomes: that table
    is rebuilt once without them (rows kept)."""
    run_sql(conn, "outreach/schema")
    fixed = conn.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'outreach_outcomes' "
        "AND constraint_type = 'CHECK'"
    ).fetchall()
    if fixed[0][0]:
        run_sql_in_transaction(
            conn, ["outreach/migrate_outcomes", "outreach/schema", "outreach/migrate_outcomes_rows"]
        )


def prepare_outreach_store(conn: duckdb.DuckDBPyConnection, profile: Profile) -> None:
    prepare_screening_store(conn, profile)
    prepare_outreach_tables(conn)


# The batch of practices whose lists build_lists_batch builds (temp table list_batch, read by
# sql/outreach/build.sql, evidence.sql and write.sql): one row per practice; capacity NULL = no limit.
BATCH_SCHEMA = pl.Schema({"practice_id": pl.String, "quarter": pl.String, "capacity": pl.Int64})


def build_lists(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    practice_id: str,
    quarter: str,
    capacity: int | None,
    use_risk_model: bool = True,
) -> BuiltLists:
    """One practice's lists: build_lists_batch with a batch of one."""
    batch = build_lists_batch(
        conn, profile, quarter=quarter, capacities={practice_id: capacity}, use_risk_model=use_risk_model
    )
    return batch[practice_id]


def build_lists_batch(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    *,
    quarter: str,
    capacities: Mapping[str, int | None],
    use_risk_model: bool = True,
) -> dict[str, BuiltLists]:
    """The lists of every practice of the batch (capacities: practice_id -> capacity, None = no
    limit) for one quarter, in one pass of each SQL file; each practice's list is ranked and cut to
    its capacity on its own, and the batch's lists are replaced in one transaction.
    use_risk_model: order by the stored predicted risk (the primary profile's model) when there is one.
    Returns practice_id -> its lists, in the order of `capacities`."""
    if not capacities:
        return {}
    prepare_outreach_store(conn, profile)
    batch = pl.DataFrame(
        {
            "practice_id": list(capacities),
            "quarter": [quarter] * len(capacities),
            "capacity": list(capacities.values()),
        },
        schema=BATCH_SCHEMA,
    )
    # every SQL file below gets its variables and its input tables right before it runs
    variables = {
        "profile_name": profile.name,
        "profile_version": profile.version,
        "characteristic_ids": list(profile.characteristic_ids),
    }
    register_temp_table(conn, "list_batch", batch)
    register_profile(conn, profile)
    run_sql(
        conn, "outreach/build", {**variables, "use_risk_model": use_risk_model, "max_attempts": MAX_ATTEMPTS}
    )
    # the records behind each reason: the screening's own criteria SQL, for the listed patients only
    listed = conn.sql("SELECT DISTINCT practice_id, patient_id FROM built_list").pl()
    records = screening_evidence(
        conn, profile, practice_ids=list(capacities), quarter=quarter, patients=listed
    )
    register_temp_table(conn, "list_evidence_records", records)
    register_temp_table(conn, "list_batch", batch)
    register_profile(conn, profile)
    run_sql(conn, "outreach/evidence", variables)
    register_temp_table(conn, "list_batch", batch)
    run_sql_in_transaction(conn, "outreach/write", variables)
    return {
        practice_id: read_lists(conn, profile, practice_id=practice_id, quarter=quarter)
        for practice_id in capacities
    }


def read_lists(
    conn: duckdb.DuckDBPyConnection, profile: Profile, *, practice_id: str, quarter: str
) -> BuiltLists:
    rows = conn.execute(
        "SELECT * FROM outreach_lists WHERE practice_id = ? AND quarter = ? AND profile_name = ? "
        "AND profile_version = ? ORDER BY list_kind, rank",
        [practice_id, quarter, profile.name, profile.version],
    )
    names = [column[0] for column in rows.description]
    frame = pl.DataFrame(rows.fetchall(), schema=names, orient="row", infer_schema_length=None)
    if frame.is_empty():
        frame = pl.DataFrame(schema={name: pl.String for name in names})
    outreach = frame.filter((pl.col("list_kind") == "outreach") & pl.col("listed").cast(pl.Boolean))
    first = fetch_dicts(
        conn,
        "SELECT min(quarter) AS first FROM score_history WHERE practice_id = ? AND NOT backfilled "
        "AND profile_name = ? AND profile_version = ?",
        [practice_id, profile.name, profile.version],
    )
    return BuiltLists(
        outreach=outreach,
        carried_over=frame.filter(
            (pl.col("list_kind") == "outreach") & ~pl.col("listed").cast(pl.Boolean)
        ).height,
        baseline=frame.filter(pl.col("list_kind") == "baseline"),
        has_risk_model=bool(frame.height and frame["predicted_risk"].drop_nulls().len()),
        is_first_quarter=bool(first and first[0]["first"] == quarter),
        excluded=fetch_dicts(
            conn,
            "SELECT count(*) AS n FROM current_exclusions WHERE practice_id = ? "
            "AND (reason <> 'tijdelijk' OR until >= omu_quarter_end(?))",
            [practice_id, quarter],
        )[0]["n"],
    )
