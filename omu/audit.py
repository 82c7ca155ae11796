"""The access log: who did what with whose data, and when (in the spirit of NEN 7513).

Every action that reads or hands out patients' data writes one entry first — to table `access_log`
in the store (sql/audit/schema.sql) and, as a copy, one JSON line to <home>/audit/access-log.jsonl —
in one transaction: when either cannot be written the entry is rolled back, `record` raises
`AuditError`, and the caller does not run the action. The Dagster assets and the command line call
the same `record`, so runs started by the sensor or a schedule under the daemon are logged too.

The log is append-only: omu only inserts. Each entry holds the sha256 of the entry before it and
of itself; `verify` (and so `omu audit`) finds any entry changed, removed or inserted afterwards.
Entries carry aggregates only (how many patients), except the pseudonym an `omu explain` showed.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
import socket
from pathlib import Path
from typing import Any

import duckdb

from omu.sql import fetch_one, query, run_sql

# The stable machine names of the actions, and what each one means (docs/privacy.md).
ACTIONS: dict[str, str] = {
    "run": "a delivery was loaded and screened (ingest step of a Dagster run: omu run, the sensor, a schedule)",
    "list_written": "a practice's outreach list (outreach.xlsx/.csv/.html, baseline.xlsx) was written",
    "outcomes_imported": "outreach outcomes were imported from a practice's file (omu outcomes import)",
    "explain": "one patient's screening and the records behind it were shown (omu explain)",
    "dashboard_written": "regional indicators or the regional dashboard were written (aggregates only)",
    "model_report": "the risk model report was written (omu model report)",
    "ui_started": "the Dagster UI was started on the omu home (omu ui)",
}
FIELDS = (
    "entry_no",
    "logged_at",
    "os_user",
    "host",
    "action",
    "practice_id",
    "quarter",
    "patients",
    "patient_id",
    "dagster_run_id",
    "detail",
)
GENESIS = "0" * 64  # the "previous entry" of the first one


class AuditError(Exception):
    """The access log entry could not be written: the action must not run."""


def log_file(home_root: str | os.PathLike) -> Path:
    """The JSON-lines copy of the access log in an omu home."""
    return Path(home_root) / "audit" / "access-log.jsonl"


def store_file(conn: duckdb.DuckDBPyConnection) -> Path:
    row = fetch_one(conn, "SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    if not row or not row[0]:
        raise AuditError(
            "the access log needs the store's database file (an in-memory database has no omu home)"
        )
    return Path(row[0]).resolve()


def who() -> tuple[str, str]:
    """The operating-system user and host the action runs as."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no login name in some containers
        user = f"uid {os.getuid()}"
    return user, socket.gethostname()


def entry_hash(previous_sha256: str, entry: dict[str, Any]) -> str:
    content = json.dumps(
        {name: entry.get(name) for name in FIELDS}, sort_keys=True, default=str, ensure_ascii=False
    )
    return hashlib.sha256(f"{previous_sha256}\n{content}".encode()).hexdigest()


def record(
    conn: duckdb.DuckDBPyConnection,
    action: str,
    *,
    practice_id: str | None = None,
    quarter: str | None = None,
    patients: int | None = None,
    patient_id: str | None = None,
    detail: str | None = None,
    dagster_run_id: str | None = None,
) -> dict[str, Any]:
    """Write one entry to `access_log` and the JSON-lines copy, both or neither; raise AuditError
    when that fails. Call it before the action: no entry, no action."""
    if action not in ACTIONS:
        raise AuditError(f"unknown access log action {action!r}; known: {', '.join(ACTIONS)}")
    try:
        path = log_file(store_file(conn).parent)
        run_sql(conn, "audit/schema")
        conn.execute("BEGIN TRANSACTION")
    except (duckdb.Error, OSError) as error:
        raise AuditError(
            f"the access log cannot be written ({type(error).__name__}); nothing was done"
        ) from None
    try:
        last = fetch_one(conn, "SELECT entry_no, entry_sha256 FROM access_log ORDER BY entry_no DESC LIMIT 1")
        user, host = who()
        entry = {
            "entry_no": (last[0] + 1) if last else 1,
            "logged_at": dt.datetime.now(dt.UTC).replace(tzinfo=None),
            "os_user": user,
            "host": host,
            "action": action,
            "practice_id": practice_id,
            "quarter": quarter,
            "patients": None if patients is None else int(patients),
            "patient_id": patient_id,
            "dagster_run_id": dagster_run_id,
            "detail": detail,
        }
        previous: str = last[1] if last else GENESIS
        entry["previous_sha256"] = previous
        entry["entry_sha256"] = entry_hash(previous, entry)
        columns = list(entry)
        conn.execute(
            f"INSERT INTO access_log ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
            [entry[c] for c in columns],
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as copy:
            copy.write(json.dumps(entry, default=str, ensure_ascii=False) + "\n")
            copy.flush()
            os.fsync(copy.fileno())
        conn.execute("COMMIT")
    except (duckdb.Error, OSError) as error:
        conn.execute("ROLLBACK")
        # the type only: a database message could quote a value
        raise AuditError(
            f"the access log cannot be written ({type(error).__name__} on {path}); nothing was done"
        ) from None
    return entry


def read(
    conn: duckdb.DuckDBPyConnection, *, practice_id: str | None = None, since: dt.date | None = None
) -> list[dict[str, Any]]:
    run_sql(conn, "audit/schema")
    cursor = query(conn, "audit/read", {"practice": practice_id, "since": since})
    names = cursor.columns
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def verify(entries: list[dict[str, Any]]) -> list[str]:
    """Problems with the whole log (empty: intact): numbering, the chain of hashes, each entry's hash."""
    problems = []
    previous = GENESIS
    for expected_no, entry in enumerate(entries, start=1):
        number = entry["entry_no"]
        if number != expected_no:
            problems.append(f"entry {expected_no} is missing (found entry {number} in its place)")
        if entry["previous_sha256"] != previous:
            problems.append(
                f"entry {number} does not follow the entry before it (one was changed or removed)"
            )
        if entry_hash(entry["previous_sha256"], entry) != entry["entry_sha256"]:
            problems.append(f"entry {number} was changed after it was written")
        previous = entry["entry_sha256"]
    return problems


def compare_copy(entries: list[dict[str, Any]], copy: Path) -> list[str]:
    """Problems between the table and its JSON-lines copy (empty: they agree): an entry in one and
    not the other, e.g. after the table was dropped and made again."""
    if not copy.is_file():
        return [f"the copy {copy} is missing"] if entries else []
    try:
        copied = [
            json.loads(line)["entry_sha256"]
            for line in copy.read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
    except (ValueError, KeyError, TypeError, OSError):
        return [f"the copy {copy} is not readable as JSON lines"]
    in_table = [entry["entry_sha256"] for entry in entries]
    problems = []
    if missing := len(set(copied) - set(in_table)):
        problems.append(f"{missing} entr{'y' if missing == 1 else 'ies'} of the copy are not in the table")
    if absent := len(set(in_table) - set(copied)):
        problems.append(f"{absent} entr{'y' if absent == 1 else 'ies'} of the table are not in the copy")
    return problems


def patients_screened(conn: duckdb.DuckDBPyConnection, quarter: str, practice_id: str | None = None) -> int:
    """How many patients were screened in a quarter (of one practice, or of every practice)."""
    row = fetch_one(
        conn,
        "SELECT count(DISTINCT (practice_id, patient_id)) FROM score_history "
        "WHERE quarter = ? AND (? IS NULL OR practice_id = ?)",
        [quarter, practice_id, practice_id],
    )
    return int(row[0]) if row else 0


__all__ = [
    "ACTIONS",
    "AuditError",
    "compare_copy",
    "log_file",
    "patients_screened",
    "read",
    "record",
    "verify",
]
