"""One definition per vocabulary and pattern: the reference files of clinical/reference/ and the
contract (omu/contract.py) are the only places their values are written; every consumer derives
from them."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from omu import contract, reference, store
from omu.evaluation.outcome import GROUPS
from omu.ingest.expectations import TYPED_COLUMNS
from omu.ingest.typing import hand_written, typed_table_sql
from omu.outreach.lists import OUTCOMES, REFERRAL_TARGETS
from omu.screening.profile import CODE_PATTERNS
from omu.sql import SQL_DIR, reference_variables, run_sql

# a literal that is the same word but another vocabulary's: (SQL file, literal, why)
OTHER_VOCABULARIES = {("outreach/build.sql", "'niet_bereikt'")}  # the inclusion code (INCLUSION_LABELS)


def test_no_sql_file_writes_an_outcome_value_or_referral_target_of_its_own():
    codes = [*reference.outcome_codes(), *reference.referral_targets()["code"]]
    written = [
        (path.relative_to(SQL_DIR).as_posix(), literal)
        for path in SQL_DIR.rglob("*.sql")
        for literal in re.findall(r"'[a-z_]+'", path.read_text(encoding="utf-8"))
        if literal.strip("'") in codes
    ]
    assert [w for w in written if w not in OTHER_VOCABULARIES] == []


def test_python_reads_the_same_vocabularies_sql_is_handed():
    variables = reference.sql_variables()
    assert (
        list(OUTCOMES)
        == variables["outcomes"]
        == ["bereikt", "niet_bereikt", "afgezien", "verwezen", "al_in_zorg"]
    )
    assert list(REFERRAL_TARGETS) == variables["referral_targets"]
    assert variables["final_outcomes"] == ["bereikt", "afgezien", "verwezen", "al_in_zorg"]
    assert variables["reached_outcomes"] == ["bereikt", "afgezien", "verwezen"]
    assert variables["referred_outcomes"] == ["verwezen"]
    # every group the evaluation compares is a group of the vocabulary
    assert set(GROUPS) <= set(variables["outcome_evaluation_groups"].values())
    # a SQL file gets exactly the vocabularies it reads, without its caller passing them
    assert set(reference_variables(["outreach/import_check"])) == {
        "outcomes",
        "referred_outcomes",
        "referral_targets",
    }


def test_the_vocabularies_arrive_in_sql_as_variables():
    with duckdb.connect() as conn:
        run_sql(conn, "common/handback")  # any file: the vocabularies come with the files that read them
        conn.execute("CREATE TEMP TABLE t AS SELECT 1")
        reference.register_wijken(conn)
        assert (
            conn.execute("SELECT count(*) FROM reference_wijken WHERE deprivation_group = 'hoog'").fetchall()[
                0
            ][0]
            > 0
        )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (
            "thuis,thuis,ja,true,true,,bereikt,",
            r"outcomes.csv, line 7, column final: 'ja' is not true or false",
        ),
        ("weg,weg,true,false,false,gone,weg,", r"outcomes.csv, line 7, column counted_as: 'gone'"),
        (
            "verwezen,x,true,true,true,referred,bereikt,",
            r"outcomes.csv, line 7, column code: 'verwezen' appears twice",
        ),
    ],
)
def test_a_broken_vocabulary_is_refused_naming_file_line_and_column(tmp_path, monkeypatch, line, message):
    broken = tmp_path / "outcomes.csv"
    broken.write_text(reference.OUTCOMES_FILE.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    monkeypatch.setattr(reference, "OUTCOMES_FILE", broken)
    with pytest.raises(reference.ReferenceError, match=message):
        reference.outcome_values()


def test_codelists_are_checked_with_the_contracts_code_patterns():
    assert CODE_PATTERNS["icpc"].pattern == contract.ICPC_PATTERN
    assert CODE_PATTERNS["atc"].pattern == contract.ATC_PATTERN
    assert CODE_PATTERNS["nhg45"].pattern == contract.INTEGER_PATTERN
    assert all(CODE_PATTERNS["contact_kind"].match(kind) for kind in contract.CONTACT_KINDS)
    assert not CODE_PATTERNS["contact_kind"].match("bezoek")


def test_the_typed_columns_validated_and_stored_are_the_contracts():
    with duckdb.connect() as conn:
        store.create_schema(conn)
        for file in contract.FILES:
            assert TYPED_COLUMNS[file.name] == tuple(c.name for c in file.typed_columns)
            stored = conn.execute(
                "SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = ? "
                "AND column_name NOT IN ('practice_id', 'quarter', 'line') ORDER BY column_index",
                [file.table],
            ).fetchall()
            assert stored == [(c.name, contract.SQL_TYPES[c.kind]) for c in file.typed_columns], file.name


def test_the_wijken_have_one_reader():
    readers = [
        path.relative_to(REPO).as_posix()
        for folder in ("omu", "models", "dashboards", "sql", "assets", "pipelines", "benchmarks")
        for path in Path(REPO / folder).rglob("*.*")
        if path.suffix in (".py", ".sql")
        and "wijken.csv" in path.read_text(encoding="utf-8")
        and re.search(r"read_csv|DictReader|\.open\(", path.read_text(encoding="utf-8"))
    ]
    assert readers == ["omu/reference.py"]


def test_every_contract_file_is_typed_merged_retained_and_accounted_for():
    """A contract file is its entry in omu/contract.py, plus its typing rules (sql/ingest/<table>.sql)
    when they are more than its columns' kinds; else its typing is made from the entry
    (omu/ingest/typing.py). The store's SQL is shared by all files and runs per file of FILES
    (tests/test_store.py), so it names no file: a file listed by hand there would be one a new file
    could be forgotten in."""
    for file in contract.FILES:
        assert hand_written(file) or typed_table_sql(file), file.name
    tables = "|".join(file.table for file in contract.FILES)
    shared = [
        *(SQL_DIR / "store").glob("*.sql"),
        *(
            SQL_DIR / "ingest" / f"{name}.sql"
            for name in ("macros", "quarantine", "quarantine_table", "typing_table")
        ),
        *(SQL_DIR / "ingest").glob("merge*.sql"),
        *(SQL_DIR / "ingest").glob("retention*.sql"),
    ]
    assert len(shared) == 11
    for path in shared:
        assert not re.search(rf"\b({tables})\b", path.read_text(encoding="utf-8")), path.name
