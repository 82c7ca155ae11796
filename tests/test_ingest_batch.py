"""A batch of deliveries: each checked on its own, Great Expectations run once for the batch,
each loaded or refused as it would be alone. Real deliveries on disk, real DuckDB files, real GX."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest

from omu.contract import FILES
from omu.home import OmuHome
from omu.ingest import load
from omu.ingest.expectations import validations_run
from omu.ingest.load import ingest_deliveries, ingest_delivery
from omu.synthetic import VENDOR_DIALECTS
from tests.test_ingest import base_tables, deliver, with_values

D = dt.date


def new_home(path: Path) -> OmuHome:
    return OmuHome.resolve(path).prepare()


def stored(home: OmuHome, practice_id: str) -> dict[str, int]:
    with duckdb.connect(str(home.database), read_only=True) as conn:
        return {
            file.table: conn.execute(
                f"SELECT count(*) FROM {file.table} WHERE practice_id = ?", [practice_id]
            ).fetchall()[0][0]
            for file in FILES
        }


def test_a_batch_of_good_deliveries_loads_all_with_one_validation(tmp_path):
    home = new_home(tmp_path / "home")
    # the same pseudonyms in each practice: uniqueness and references hold within a delivery
    folders = [
        deliver(tmp_path / "landing", practice=practice, dialect=VENDOR_DIALECTS[n])
        for n, practice in enumerate(("P0101", "P0102", "P0103"))
    ]
    before = validations_run()
    outcomes = ingest_deliveries(home, folders)
    assert validations_run() - before == 1
    assert [(o.practice_id, o.status) for o in outcomes] == [
        ("P0101", "loaded"),
        ("P0102", "loaded"),
        ("P0103", "loaded"),
    ]
    for outcome in outcomes:
        assert outcome.check is not None and outcome.outputs is not None
        summaries = outcome.check.validation
        assert set(summaries) == {file.name for file in FILES}
        assert all(s["success"] and s["deliveries"] == 3 and s["evaluated"] for s in summaries.values())
        assert "one batch of 3 deliveries" in outcome.outputs["report"].read_text()
        assert stored(home, outcome.practice_id) == {
            file.table: frame.height for file, frame in zip(FILES, base_tables().values(), strict=True)
        }
    assert not list(home.staging.rglob("*.parquet"))  # every stage folder is gone


# An omu error in typing is simulated by changing one delivery's staged rows after staging:
# Great Expectations must catch it in the batch and refuse that delivery alone.


def _break_icpc(stage_dir: Path) -> tuple[str, str]:
    _rewrite(stage_dir / "episodes.parquet", icpc=pl.lit("not an icpc"))
    return "episodes.csv", "icpc matches"


def _contact_after_extraction(stage_dir: Path) -> tuple[str, str]:
    # after this delivery's extraction date (2026-10-01), not after the other deliveries' (10-05)
    _rewrite(stage_dir / "contacts.parquet", contact_on=pl.lit(D(2026, 10, 3)))
    return "contacts.csv, column contact_on", "contact_on is not after the delivery's extraction date failed"


def _rewrite(parquet: Path, **change: pl.Expr) -> None:
    frame = pl.read_parquet(parquet)
    changed = frame.with_columns(
        pl.when(pl.col("line") == 2).then(value).otherwise(pl.col(column)).alias(column)
        for column, value in change.items()
    )
    changed.write_parquet(parquet)


BREAKS = {"pattern": _break_icpc, "date after its own extraction": _contact_after_extraction}


@pytest.mark.parametrize("case", BREAKS)
def test_a_staged_row_that_breaks_an_expectation_refuses_only_its_delivery(tmp_path, monkeypatch, case):
    stage_delivery, found = load.stage_delivery, []

    def staged_with_an_error(delivery_dir, stage_dir, **kwargs):
        check = stage_delivery(delivery_dir, stage_dir, **kwargs)
        if check.practice_id == "P0102":
            found.append(BREAKS[case](check.stage_dir))
        return check

    monkeypatch.setattr(load, "stage_delivery", staged_with_an_error)
    home = new_home(tmp_path / "home")
    folders = [
        deliver(tmp_path / "landing", practice="P0101"),
        deliver(tmp_path / "landing", practice="P0102", extracted_on=D(2026, 10, 1)),
        deliver(tmp_path / "landing", practice="P0103"),
    ]
    before = validations_run()
    good, bad, other = ingest_deliveries(home, folders)
    # the batch, then each delivery on its own to find which one broke it
    assert validations_run() - before == 1 + 3
    assert (good.status, bad.status, other.status) == ("loaded", "refused", "loaded")
    where, what = found[0]
    assert bad.reason is not None and where in bad.reason and what in bad.reason, bad.reason
    assert stored(home, "P0102") == {file.table: 0 for file in FILES}
    assert stored(home, "P0101") == stored(home, "P0103") != stored(home, "P0102")
    with duckdb.connect(str(home.database), read_only=True) as conn:
        assert conn.execute("SELECT practice_id, status FROM deliveries ORDER BY 1").fetchall() == [
            ("P0101", "loaded"),
            ("P0102", "refused"),
            ("P0103", "loaded"),
        ]
    # each keeps a result of its own; the refusal reads as it would had the delivery come alone
    assert all(s["deliveries"] == 1 for s in good.check.validation.values())  # type: ignore[union-attr]
    alone = ingest_delivery(new_home(tmp_path / "alone"), folders[1])
    assert alone.status == "refused" and alone.reason == bad.reason


def test_a_delivery_refused_before_validation_leaves_the_rest_of_the_batch(tmp_path):
    home = new_home(tmp_path / "home")
    tables = base_tables()
    tables["patients.csv"] = tables["patients.csv"].with_columns(bsn_nummer=pl.lit(None, pl.String))
    refused = deliver(tmp_path / "landing", tables, practice="P0101")
    good = deliver(tmp_path / "landing", practice="P0102")
    before = validations_run()
    first, second = ingest_deliveries(home, [refused, good])
    assert validations_run() - before == 1  # the good one alone
    assert first.status == "refused" and "column bsn_nummer" in (first.reason or "")
    assert first.check is not None and first.check.validation == {}  # never validated
    assert second.status == "loaded"
    assert second.check is not None
    assert all(s["success"] and s["deliveries"] == 1 for s in second.check.validation.values())
    assert stored(home, "P0101") == {file.table: 0 for file in FILES}
    assert stored(home, "P0102")["patients"] == 3
    assert "Refused" in (first.outputs or {})["report"].read_text()


def _store_content(home: OmuHome) -> dict[str, list]:
    """Every table as stored, without the times of arrival and of retention's drop."""
    with duckdb.connect(str(home.database), read_only=True) as conn:
        content = {
            table: sorted(conn.execute(f"SELECT * FROM {table}").fetchall(), key=str)
            for table in [file.table for file in FILES] + ["quarantine"]
        }
        content["deliveries"] = sorted(
            conn.execute(
                "SELECT * EXCLUDE (received_at, raw_dropped_at), raw_dropped_at IS NULL FROM deliveries"
            ).fetchall(),
            key=str,
        )
    return content


def test_a_batch_stores_what_the_same_deliveries_one_by_one_store(tmp_path):
    landing = tmp_path / "landing"
    named = base_tables()
    named["contacts.csv"] = named["contacts.csv"].with_columns(naam=pl.lit("Jansen"))
    folders = [
        deliver(landing, practice="P0101", quarter="2026Q2", extracted_on=D(2026, 7, 3)),
        deliver(landing, practice="P0101"),  # the same practice again: a second round
        deliver(landing, with_values("episodes.csv", "icpc", ["F94", "bad", "R96", "K86"]), practice="P0102"),
        deliver(landing, named, practice="P0103"),  # refused: a name
        deliver(landing, practice="P0104", dialect=VENDOR_DIALECTS[3]),
    ]
    one_by_one, batch = new_home(tmp_path / "one"), new_home(tmp_path / "batch")
    statuses = [ingest_delivery(one_by_one, folder).status for folder in folders]
    before = validations_run()
    outcomes = ingest_deliveries(batch, folders)
    assert validations_run() - before == 2  # P0101's two quarters take two rounds
    assert statuses == [o.status for o in outcomes] == ["loaded", "loaded", "loaded", "refused", "loaded"]
    assert _store_content(batch) == _store_content(one_by_one)
    with duckdb.connect(str(batch.database), read_only=True) as conn:
        quarantined = conn.execute("SELECT DISTINCT practice_id, quarter FROM quarantine ORDER BY 1, 2")
        # the bad icpc; the Q2 delivery's dates after its extraction date (in the shared base tables)
        assert quarantined.fetchall() == [("P0101", "2026Q2"), ("P0102", "2026Q3")]

    # the same batch again: nothing to validate, nothing changes, the refusal is logged once
    before, content = validations_run(), _store_content(batch)
    again = ingest_deliveries(batch, folders)
    assert [o.status for o in again] == ["unchanged", "unchanged", "unchanged", "refused", "unchanged"]
    assert validations_run() == before
    assert _store_content(batch) == content
