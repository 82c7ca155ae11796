"""Ingest one delivery into the store: check outside the lock, then one short transaction.

A delivery is identified by the sha256 of its manifest (which holds every file's sha256): the
same delivery twice changes nothing; a changed one for the same practice and quarter replaces
the earlier as a whole; a refused one leaves the store's rows as they were and is recorded in
`deliveries` with its reason.

A batch of deliveries (ingest_deliveries) is checked delivery by delivery, as one would be, but
validated by Great Expectations once for all of them; then each is merged in a short transaction
of its own. One delivery (ingest_delivery) is a batch of one.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from omu import store
from omu.contract import FILES, MANIFEST
from omu.file_reading import sha256_of
from omu.home import OmuHome
from omu.ingest.delivery import DeliveryCheck, delivery_location, stage_delivery, validate_staged_checks
from omu.ingest.report import write_delivery_outputs
from omu.sql import SqlFile, fetch_one, literal_path, run_sql_in_transaction

DEFAULT_RETENTION = 4


@dataclass
class IngestOutcome:
    practice_id: str
    quarter: str
    status: str  # loaded | refused | unchanged
    check: DeliveryCheck | None = None
    outputs: dict[str, Path] | None = None

    @property
    def reason(self) -> str | None:
        return self.check.refusal_reason if self.check else None


def store_facts(
    conn: duckdb.DuckDBPyConnection, practice_id: str, quarter: str
) -> tuple[str | None, str | None, str | None]:
    """(sha of the delivery in force, the practice's pseudonym key, sha of the latest attempt)."""
    in_force = fetch_one(
        conn,
        "SELECT manifest_sha256 FROM current_deliveries WHERE practice_id = ? AND quarter = ?",
        [practice_id, quarter],
    )
    key = fetch_one(
        conn,
        "SELECT pseudonym_key_id FROM deliveries WHERE practice_id = ? AND status = 'loaded' "
        "ORDER BY received_at DESC LIMIT 1",
        [practice_id],
    )
    latest = fetch_one(
        conn,
        "SELECT manifest_sha256 FROM deliveries WHERE practice_id = ? AND quarter = ? ORDER BY received_at DESC LIMIT 1",
        [practice_id, quarter],
    )
    return (in_force[0] if in_force else None, key[0] if key else None, latest[0] if latest else None)


def delivery_row(check: DeliveryCheck, received_at: dt.datetime) -> pl.DataFrame:
    manifest = check.manifest.raw if check.manifest else {}
    row: dict[str, object] = {
        "practice_id": check.practice_id,
        "quarter": check.quarter,
        "manifest_sha256": check.manifest_sha256 or "missing",
        "received_at": received_at,
        "status": "loaded" if check.accepted else "refused",
        "reason": check.refusal_reason,
        "contract_version": manifest.get("contract_version")
        if isinstance(manifest.get("contract_version"), int)
        else None,
        "extracted_on": _date_or_none(manifest.get("extracted_on")),
        "his_vendor": manifest.get("his_vendor"),
        "pseudonym_key_id": manifest.get("pseudonym_key_id"),
    }
    for file in FILES:
        account = check.files.get(file.name)
        row[f"{file.table}_rows_manifest"] = account.rows_in_manifest if account else None
        row[f"{file.table}_rows_loaded"] = account.rows_loaded if account and check.accepted else None
        row[f"{file.table}_rows_quarantined"] = (
            account.rows_quarantined if account and check.accepted else None
        )
    return pl.DataFrame(
        [row],
        schema_overrides={
            key: pl.Int64 for key in row if key.endswith(("_manifest", "_loaded", "_quarantined"))
        }
        | {
            "contract_version": pl.Int32,
            "reason": pl.String,
            "his_vendor": pl.String,
            "pseudonym_key_id": pl.String,
        },
    )


def _date_or_none(text: object) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        return None


def merge_sql() -> list[SqlFile]:
    """The load's SQL, in order, for one transaction: each contract file's raw table (merge_table.sql),
    then quarantine and deliveries (merge.sql), then retention (retention.sql and per raw table
    retention_table.sql)."""
    tables = [file.table for file in FILES]
    return [
        *(("ingest/merge_table", table) for table in tables),
        "ingest/merge",
        "ingest/retention",
        *(("ingest/retention_table", table) for table in tables),
    ]


def merge_delivery(
    conn: duckdb.DuckDBPyConnection,
    check: DeliveryCheck,
    received_at: dt.datetime,
    retention: int = DEFAULT_RETENTION,
) -> None:
    """The single writer's part: replace the practice-quarter as a whole, in one transaction."""
    assert check.accepted and check.stage_dir is not None
    conn.register("delivery_row", delivery_row(check, received_at))
    try:
        run_sql_in_transaction(
            conn,
            merge_sql(),
            {
                "practice_id": check.practice_id,
                "quarter": check.quarter,
                "stage_dir": literal_path(check.stage_dir),
                "retention": retention,
            },
        )
    finally:
        conn.unregister("delivery_row")


def record_refusal(conn: duckdb.DuckDBPyConnection, check: DeliveryCheck, received_at: dt.datetime) -> None:
    conn.register("delivery_row", delivery_row(check, received_at))
    try:
        conn.execute("INSERT INTO deliveries BY NAME SELECT * FROM delivery_row")
    finally:
        conn.unregister("delivery_row")


Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


def ingest_delivery(
    home: OmuHome,
    delivery_dir: Path,
    *,
    retention: int = DEFAULT_RETENTION,
    received_at: dt.datetime | None = None,
    connect: Connect | None = None,
) -> IngestOutcome:
    """Check a delivery outside the store lock, then load it (or record its refusal) in one short
    transaction. `connect` opens the store (the Dagster resource passes its own)."""
    return ingest_deliveries(
        home, [delivery_dir], retention=retention, received_at=received_at, connect=connect
    )[0]


def ingest_deliveries(
    home: OmuHome,
    delivery_dirs: Sequence[Path],
    *,
    retention: int = DEFAULT_RETENTION,
    received_at: dt.datetime | None = None,
    connect: Connect | None = None,
) -> list[IngestOutcome]:
    """Ingest a batch of deliveries; the outcomes in the order of delivery_dirs, each as
    ingest_delivery would give it had the deliveries come one by one in that order.

    Each delivery is checked and staged on its own, outside the store lock; Great Expectations
    then validates the staged rows of all still accepted ones at once (a failure is traced to
    the deliveries that cause it: only those are refused). Then, under one store connection (one
    hold of the store lock), each accepted delivery is merged in a short transaction of its own
    and each refusal recorded, in the order given; each delivery's report is written after its
    commit. Should a merge fail, the deliveries before it stay loaded (and reported), it and
    those after it are not loaded, and the error is raised.

    A practice that comes more than once (several quarters, or a delivery twice) is ingested in
    rounds: its n-th delivery in the n-th round, after the earlier rounds are in the store, so
    that it is judged against them (pseudonym key, unchanged manifest) as it would be one by one.
    Every round is one validation."""
    connect = connect or (lambda: store.connect(home.database))
    dirs = [Path(delivery_dir) for delivery_dir in delivery_dirs]
    locations: list[tuple[str, str]] = []
    for delivery_dir in dirs:  # every folder is named right before any is ingested
        practice_id, quarter = delivery_location(delivery_dir)
        if practice_id is None or quarter is None:
            raise ValueError(f"{delivery_dir} is not a landing/<practice_id>/<quarter>/ folder")
        locations.append((practice_id, quarter))
    outcomes: dict[int, IngestOutcome] = {}
    for round_ in _rounds([practice_id for practice_id, _ in locations]):
        outcomes |= _ingest_round(
            home,
            [(index, dirs[index], *locations[index]) for index in round_],
            retention=retention,
            received_at=received_at or dt.datetime.now(),
            connect=connect,
        )
    return [outcomes[index] for index in range(len(dirs))]


def _rounds(practice_ids: list[str]) -> list[list[int]]:
    """Indexes of the batch in rounds: a practice's n-th delivery in round n (order kept)."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for index, practice_id in enumerate(practice_ids):
        number = seen.get(practice_id, 0)
        seen[practice_id] = number + 1
        if number == len(rounds):
            rounds.append([])
        rounds[number].append(index)
    return rounds


@dataclass
class _Attempt:
    index: int
    practice_id: str
    quarter: str
    check: DeliveryCheck
    sha: str | None
    latest_attempt: str | None


def _ingest_round(
    home: OmuHome,
    deliveries: list[tuple[int, Path, str, str]],
    *,
    retention: int,
    received_at: dt.datetime,
    connect: Connect,
) -> dict[int, IngestOutcome]:
    """Deliveries of different practices: check each, validate all at once, then load each."""
    outcomes: dict[int, IngestOutcome] = {}
    shas = {
        index: sha256_of(delivery_dir / MANIFEST) if (delivery_dir / MANIFEST).is_file() else None
        for index, delivery_dir, _, _ in deliveries
    }
    with connect() as conn:
        facts = {
            index: store_facts(conn, practice_id, quarter) for index, _, practice_id, quarter in deliveries
        }
    attempts: list[_Attempt] = []
    stage_dirs: list[Path] = []
    committed: list[_Attempt] = []
    try:
        for index, delivery_dir, practice_id, quarter in deliveries:
            sha = shas[index]
            in_force, key_id, latest_attempt = facts[index]
            if sha is not None and sha == in_force:
                outcomes[index] = IngestOutcome(practice_id, quarter, "unchanged")
                continue
            # A folder of this attempt's own: two runs of one delivery never stage into (or clean up) the same
            stage_parent = home.staging / practice_id / quarter
            stage_parent.mkdir(parents=True, exist_ok=True)
            stage_dir = Path(tempfile.mkdtemp(prefix=f"{(sha or 'no-manifest')[:16]}-", dir=stage_parent))
            stage_dirs.append(stage_dir)
            check = stage_delivery(delivery_dir, stage_dir, previous_key_id=key_id)
            attempts.append(_Attempt(index, practice_id, quarter, check, sha, latest_attempt))
        validate_staged_checks([attempt.check for attempt in attempts])
        if attempts:
            with connect() as conn:
                for attempt in attempts:
                    if attempt.check.accepted:
                        merge_delivery(conn, attempt.check, received_at, retention)
                    elif attempt.sha is None or attempt.sha != attempt.latest_attempt:
                        record_refusal(conn, attempt.check, received_at)  # the same refusal is logged once
                    committed.append(attempt)
    finally:
        for stage_dir in stage_dirs:
            shutil.rmtree(stage_dir, ignore_errors=True)
        # Only now, after its commit: a report never speaks of a load that did not happen
        for attempt in committed:
            check, practice_id, quarter = attempt.check, attempt.practice_id, attempt.quarter
            outputs = write_delivery_outputs(check, home.delivery_out(quarter, practice_id))
            status = "loaded" if check.accepted else "refused"
            outcomes[attempt.index] = IngestOutcome(practice_id, quarter, status, check, outputs)
    return outcomes
