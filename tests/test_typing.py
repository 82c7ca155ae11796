"""A plain contract file's typing is made from its entry (omu/ingest/typing.py): the same typed
values and the same problems, with the same reasons, as hand-written SQL would give. contacts.csv
is such a file; its former hand-written typing is kept here as the yardstick. Real DuckDB, a
delivery of omu's synthetic generator with bad values injected."""

from __future__ import annotations

import datetime as dt
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from omu import sql
from omu.contract import CONTACT_KINDS, FILES_BY_NAME, Column, ContractFile
from omu.ingest.delivery import contract_variables
from omu.ingest.manifest import read_manifest
from omu.ingest.reading import LINE, read_delivery_csv
from omu.ingest.typing import HandWrittenTypingNeeded, hand_written, type_file, typed_table_sql
from omu.quarters import Quarter
from omu.sql import SQL_DIR, run_sql, set_variables, sql_text
from omu.synthetic import generate

# sql/ingest/contacts.sql as it was written by hand, before contacts.csv became a plain file
# (contact_kinds was a variable of omu.ingest.delivery.contract_variables then).
HAND_WRITTEN_CONTACTS = """
CREATE OR REPLACE TEMP TABLE typed_contacts AS
SELECT
    line,
    patient_id,
    omu_date(contact_on) AS contact_on,
    lower(kind) AS kind,
    omu_problems([
        omu_missing('patient_id', patient_id),
        omu_check_known_patient(patient_id),
        omu_missing('contact_on', contact_on),
        omu_check_date('contact_on', contact_on),
        omu_missing('kind', kind),
        omu_check_in('kind', lower(kind), getvariable('contact_kinds'))
    ]) AS problems
FROM raw_contacts;

CREATE OR REPLACE TEMP TABLE checked_contacts AS
SELECT * EXCLUDE (copy_no) FROM omu_flag_duplicates('typed_contacts');

CREATE OR REPLACE TEMP TABLE accepted_contacts AS
SELECT * EXCLUDE (problems) FROM checked_contacts WHERE len(problems) = 0;
"""


@pytest.fixture(scope="module")
def delivery(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("landing")
    generate(
        out, practices=1, quarters=[Quarter.parse("2026Q3")], seed=11, patients=(60, 60), history_years=1
    )
    return out / "P0001" / "2026Q3"


def typed_contacts(delivery: Path, typing) -> tuple[pl.DataFrame, pl.DataFrame]:
    """checked_contacts and accepted_contacts of the delivery's contacts.csv plus bad rows, typed
    by `typing` after patients.csv (whose accepted rows the contacts must refer to)."""
    patients = read_delivery_csv(delivery / "patients.csv").rows
    contacts = read_delivery_csv(delivery / "contacts.csv").rows
    known = patients["patient_id"][0]
    first = contacts.row(0, named=True)
    bad = pl.DataFrame(
        {
            # seven bad rows, then one good one in the other date format with a capital
            "patient_id": [None, known, known, "patientXXXX0009", known, first["patient_id"], known, known],
            "contact_on": [
                *("2026-03-04", None, "2026-02-30", "2026-03-04", "2026-03-04"),
                *(first["contact_on"], "1899-12-31", "04-03-2026"),
            ],
            "kind": [
                "consult",
                "consult",
                "consult",
                "consult",
                "e-mail",
                first["kind"].upper(),
                None,
                "Visite",
            ],
        }
    ).with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias(LINE) + contacts[LINE].max() + 1)
    manifest, _ = read_manifest(delivery)
    assert manifest is not None
    conn = duckdb.connect()
    set_variables(conn, contract_variables(manifest))
    run_sql(conn, "ingest/macros")
    for table, rows in (("patients", patients), ("contacts", pl.concat([contacts, bad], how="diagonal"))):
        conn.register(f"raw_{table}_frame", rows)
        conn.execute(f"CREATE TEMP TABLE raw_{table} AS SELECT * FROM raw_{table}_frame")
    run_sql(conn, "ingest/patients")
    typing(conn)
    return tuple(conn.sql(f"SELECT * FROM {t}_contacts ORDER BY line").pl() for t in ("checked", "accepted"))


def by_hand_written(text: str | None) -> Callable[[duckdb.DuckDBPyConnection], None]:
    """Typing by the hand-written contacts SQL `text`, or by type_file when it has a file of its own."""

    def typing(conn: duckdb.DuckDBPyConnection) -> None:
        set_variables(conn, {"contact_kinds": list(CONTACT_KINDS)})
        if text is None:
            type_file(conn, FILES_BY_NAME["contacts.csv"])
        else:
            conn.execute(text)

    return typing


def test_contacts_typed_from_its_entry_equal_its_former_hand_written_typing(delivery):
    assert not hand_written(FILES_BY_NAME["contacts.csv"])  # so type_file makes it from the entry
    made = typed_contacts(delivery, lambda conn: type_file(conn, FILES_BY_NAME["contacts.csv"]))
    by_hand = typed_contacts(delivery, by_hand_written(HAND_WRITTEN_CONTACTS))
    for generated, written in zip(made, by_hand, strict=True):
        assert_frame_equal(generated, written)
    checked = made[0]
    reasons = checked.explode("problems").unnest("problems").drop_nulls("reason")
    # every injected problem is there, with the hand-written reasons
    assert set(reasons["reason"]) == {
        "missing required value",
        "unparsable date (expected YYYY-MM-DD or DD-MM-YYYY)",
        "date before 1900",
        "unknown patient_id (not loaded from patients.csv)",
        "value not allowed (allowed: consult, visite, telefonisch, e-consult, huisartsenpost)",
        f"duplicate of line {checked['line'][0]} (the same values once typed)",
    }
    assert checked.filter(pl.col("problems").list.len() > 0).height == 7
    # the good row typed as the hand-written file typed it: either date format, codes lower-cased
    assert made[1].row(-1)[2:] == (dt.date(2026, 3, 4), "visite")


def test_a_file_beyond_its_columns_kinds_needs_its_own_typing():
    with pytest.raises(HandWrittenTypingNeeded, match="write sql/ingest/patients.sql"):
        typed_table_sql(FILES_BY_NAME["patients.csv"])
    ranged = ContractFile("referrals.csv", (Column("patient_id", "text"), Column("on", "date", minimum=1)))
    with pytest.raises(HandWrittenTypingNeeded, match="a range on date column on"):
        typed_table_sql(ranged)


@pytest.fixture
def own_sql_dir(tmp_path, monkeypatch) -> Iterator[Path]:
    """A copy of the repository's sql/ that omu runs from, for a file to get typing SQL of its own."""
    copy = tmp_path / "sql"
    shutil.copytree(SQL_DIR, copy)
    monkeypatch.setattr(sql, "SQL_DIR", copy)
    sql_text.cache_clear()
    yield copy
    sql_text.cache_clear()


def test_a_hand_written_typing_sql_takes_precedence_over_the_entry(delivery, own_sql_dir):
    # contacts typed by a rule the entry does not state: kinds as written, not lower-cased
    strict = HAND_WRITTEN_CONTACTS.replace("lower(kind)", "kind")
    (own_sql_dir / "ingest" / "contacts.sql").write_text(strict, encoding="utf-8")
    assert hand_written(FILES_BY_NAME["contacts.csv"])
    checked, accepted = typed_contacts(delivery, by_hand_written(None))
    assert checked.row(-1)[3:] == (
        "Visite",
        [
            {
                "column": "kind",
                "value": "Visite",
                "reason": "value not allowed (allowed: consult, visite, telefonisch, e-consult, huisartsenpost)",
            }
        ],
    )
    assert accepted["line"].max() < checked["line"].max()
