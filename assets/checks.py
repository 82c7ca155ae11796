"""Asset checks: each reads back what its asset stored (DuckDB tables, files written) on its own.

A check runs as its own step after the asset (or alone: `dg.AssetSelection.checks(...)`), so it
sees the store and the files as they are, not the asset's memory of them. Whatever it needs and
cannot find — no delivery in force, no rows, a file missing — fails it: no check passes by
default. Metadata and descriptions hold counts, table, file and indicator names only, never a
patient-level value.
"""

import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import duckdb
import polars as pl

from omu.assets.errors import values_withheld
from omu.assets.ingest import RAW_TABLES
from omu.contract import FILES
from omu.dashboards.indicators import (
    derived_violations,
    ledger_violations,
    person_count_columns,
    read_indicators,
)
from omu.dashboards.region import PatientIdSearch, patient_ids_in
from omu.dashboards.suppression import PRIMARY_MAX, PRIMARY_MIN, ROUNDING_BASE
from omu.evaluation.outcome import EVALUATION_CSV, EVALUATION_HTML, FUNNEL_STEPS, WORKLOAD
from omu.outreach.list_files import column_header
from omu.outreach.outcomes import read_outcome_file
from omu.pipelines.partitions import batch_label, deliveries_of
from omu.pipelines.resources import DuckDBStore, OmuSettings
from omu.screening.screen import screening_checks, screening_plan
from omu.sql import fetch_dicts, literal_path, register_temp_table, run_sql

FILES_BY_TABLE = {file.table: file for file in FILES}


def _each_delivery(
    context: dg.AssetCheckExecutionContext,
    check: Callable[[str, str], Iterable[dg.AssetCheckResult]],
) -> Iterator[dg.AssetCheckResult]:
    """Run a per-delivery check for every delivery of the run (one, or a batch) and report one
    result per check key: passed only when it passed for every delivery; a failure names the
    delivery; the counts in the metadata are summed."""
    deliveries = deliveries_of(context)
    results: dict[dg.AssetCheckKey, list[tuple[str, dg.AssetCheckResult]]] = {}
    for practice_id, quarter in deliveries:
        for result in check(practice_id, quarter):
            assert result.asset_key is not None and result.check_name is not None  # _result names both
            key = dg.AssetCheckKey(result.asset_key, result.check_name)
            results.setdefault(key, []).append((f"{practice_id} {quarter}", result))
    for key, found in results.items():
        if len(found) == 1:
            yield found[0][1]
            continue
        failed = [(label, result) for label, result in found if not result.passed]
        metadata: dict = {}
        for _, result in found:
            for name, value in result.metadata.items():
                if isinstance(value, dg.IntMetadataValue):
                    metadata[name] = metadata.get(name, 0) + (value.value or 0)
        yield dg.AssetCheckResult(
            asset_key=key.asset_key,
            check_name=key.name,
            passed=not failed,
            description="; ".join(f"{label}: {result.description}" for label, result in failed[:5])
            if failed
            else f"{len(found)} deliveries ({batch_label(deliveries)}): {found[0][1].description}, ...",
            metadata={**metadata, "deliveries": len(found), "deliveries_failed": len(failed)},
        )


def _single_result(
    context: dg.AssetCheckExecutionContext, check: Callable[[str, str], dg.AssetCheckResult]
) -> dg.AssetCheckResult:
    """_each_delivery for a check with one result per delivery."""
    (result,) = _each_delivery(context, lambda practice_id, quarter: [check(practice_id, quarter)])
    return result


def _result(key: dg.AssetCheckKey, problems: list[str], checked: str, **metadata) -> dg.AssetCheckResult:
    """Passed only when nothing is wrong; the description names what was checked or what broke."""
    return dg.AssetCheckResult(
        asset_key=key.asset_key,
        check_name=key.name,
        passed=not problems,
        description="; ".join(problems[:5]) if problems else checked,
        metadata={"problems": len(problems), **metadata},
    )


def _store_patient_ids(conn: duckdb.DuckDBPyConnection, practice_id: str | None = None) -> set[str]:
    sql = "SELECT DISTINCT patient_id FROM score_history"
    params: list = []
    if practice_id is not None:
        sql += " WHERE practice_id = ?"
        params = [practice_id]
    return {p for (p,) in conn.execute(sql, params).fetchall()}


# --- ingest ----------------------------------------------------------------------------------


@dg.multi_asset_check(
    name="ingest_checks",
    specs=[
        spec
        for table in RAW_TABLES
        for spec in (
            dg.AssetCheckSpec(
                "rows_add_up",
                asset=table,
                description="rows of this file in the store + its quarantined lines = its rows in the "
                "manifest, counted again in the tables",
            ),
            dg.AssetCheckSpec(
                "contract_expectations",
                asset=table,
                description="Great Expectations, run again on the stored rows: they meet HIS extract "
                "contract v1",
            ),
        )
    ],
    can_subset=True,
)
@values_withheld
def ingest_checks(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> Iterator[dg.AssetCheckResult]:
    """Counts each delivery's stored and quarantined rows per file against the manifest, and
    validates the stored rows of the run's deliveries once more with the contract's Great
    Expectations suites, in one validation of the batch."""
    selected = context.selected_asset_check_keys
    validate = any(key.name == "contract_expectations" for key in selected)
    deliveries = deliveries_of(context)
    facts: dict[tuple[str, str], tuple[dict | None, dict[str, int], dict[str, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="omu-check-") as scratch:
        staged: dict[tuple[str, str], Path] = {}
        with store.connect() as conn:
            for number, (practice_id, quarter) in enumerate(deliveries):
                facts[(practice_id, quarter)] = _stored_counts(conn, practice_id, quarter)
                delivery = facts[(practice_id, quarter)][0]
                if validate and delivery is not None and delivery.get("extracted_on") is not None:
                    staged[(practice_id, quarter)] = Path(scratch) / str(number)
                    _stage_stored(conn, practice_id, quarter, staged[(practice_id, quarter)])
        # the suites run outside the store lock, on the copies just staged
        validations = _validate(
            {key: (folder, facts[key][0]["extracted_on"]) for key, folder in staged.items()}  # type: ignore[index]
        )

    def one(practice_id: str, quarter: str) -> Iterator[dg.AssetCheckResult]:
        delivery, stored, quarantined = facts[(practice_id, quarter)]
        validation = validations.get((practice_id, quarter), {})
        no_delivery = f"no loaded delivery of {practice_id} {quarter} in the deliveries log"
        for table in RAW_TABLES:
            file = FILES_BY_TABLE[table]
            key = dg.AssetCheckKey(dg.AssetKey(table), "rows_add_up")
            if key in selected:
                yield _rows_add_up(
                    key, file, delivery, stored[table], quarantined.get(file.name, 0), no_delivery
                )
            key = dg.AssetCheckKey(dg.AssetKey(table), "contract_expectations")
            if key in selected:
                yield _contract_expectations(key, file, delivery, validation.get(file.name), no_delivery)

    yield from _each_delivery(context, one)


def _stored_counts(
    conn: duckdb.DuckDBPyConnection, practice_id: str, quarter: str
) -> tuple[dict | None, dict[str, int], dict[str, int]]:
    """The delivery in force, its rows per raw table, and its quarantined lines per file."""
    rows = fetch_dicts(
        conn, "SELECT * FROM current_deliveries WHERE practice_id = ? AND quarter = ?", [practice_id, quarter]
    )
    stored = {
        table: conn.execute(
            f"SELECT count(*) FROM {table} WHERE practice_id = ? AND quarter = ?", [practice_id, quarter]
        ).fetchone()[0]  # type: ignore[index]
        for table in RAW_TABLES
    }
    quarantined = dict(
        conn.execute(
            "SELECT file, count(DISTINCT line) FROM quarantine WHERE practice_id = ? AND quarter = ? GROUP BY file",
            [practice_id, quarter],
        ).fetchall()
    )
    return (rows[0] if rows else None), stored, quarantined


def _rows_add_up(
    key: dg.AssetCheckKey, file, delivery: dict | None, stored: int, quarantined: int, no_delivery: str
) -> dg.AssetCheckResult:
    in_manifest = delivery.get(f"{file.table}_rows_manifest") if delivery else None
    problems = []
    if delivery is None:
        problems.append(no_delivery)
    elif delivery.get("raw_dropped_at") is not None:
        if stored:  # retention dropped them: none may be left
            problems.append(f"{file.name}: {stored} rows stored although retention dropped the raw rows")
    elif in_manifest is None:
        if file.required:
            problems.append(f"{file.name}: no row count of the manifest in the deliveries log")
        elif stored or quarantined:
            problems.append(
                f"{file.name}: not delivered, yet {stored + quarantined} rows stored or quarantined"
            )
    elif in_manifest != stored + quarantined:
        problems.append(
            f"{file.name}: {stored} stored + {quarantined} quarantined = {stored + quarantined}, "
            f"manifest says {in_manifest}"
        )
    dropped = delivery is not None and delivery.get("raw_dropped_at") is not None
    return _result(
        key,
        problems,
        f"{file.name}: raw rows dropped by retention, none left"
        if dropped
        else f"{file.name}: {stored} stored + {quarantined} quarantined = {in_manifest or 0} in the manifest",
        manifest=in_manifest if in_manifest is not None else 0,
        stored=stored,
        quarantined=quarantined,
    )


def _contract_expectations(
    key: dg.AssetCheckKey, file, delivery: dict | None, suite: dict | None, no_delivery: str
) -> dg.AssetCheckResult:
    problems = []
    if delivery is None:
        problems.append(no_delivery)
    elif suite is None or not suite.get("evaluated"):
        problems.append(f"{file.name}: no expectation was evaluated on the stored rows")
    else:
        problems += [
            f"{file.name}: {e['description'] or e['expectation']}"
            + (f" ({e['column']})" if e.get("column") else "")
            + f" failed on {e['unexpected_count'] or 'the'} stored rows"
            for e in suite["expectations"]
            if not e["success"]
        ]
        if not suite.get("success") and not problems:
            problems.append(f"{file.name}: the suite did not succeed")
    return _result(
        key,
        problems,
        f"{file.name}: {suite.get('evaluated', 0) if suite else 0} expectations met by the stored rows",
        expectations=suite.get("evaluated", 0) if suite else 0,
        failed=suite.get("failed", 0) if suite else 0,
    )


def _stage_stored(conn: duckdb.DuckDBPyConnection, practice_id: str, quarter: str, folder: Path) -> None:
    """The delivery's stored rows as the ingest stages them: one Parquet file per table."""
    from omu.ingest.expectations import TYPED_COLUMNS

    folder.mkdir(parents=True, exist_ok=True)
    for file in FILES:
        columns = ", ".join(["line", *TYPED_COLUMNS[file.name]])
        conn.sql(
            f"SELECT {columns} FROM {file.table} WHERE practice_id = $practice_id AND quarter = $quarter",
            params={"practice_id": practice_id, "quarter": quarter},
        ).write_parquet(str(folder / f"{file.table}.parquet"))


def _validate(staged: dict[tuple[str, str], tuple[Path, Any]]) -> dict[tuple[str, str], dict[str, dict]]:
    """The contract suites the ingest ran on its staged files, on the stored rows, as the ingest
    runs them: one validation of them all (validate_each), so a failure names its delivery."""
    from omu.ingest.expectations import StagedDelivery, validate_each

    deliveries = [StagedDelivery(folder, extracted_on) for folder, extracted_on in staged.values()]
    return dict(zip(staged, validate_each(deliveries), strict=True))


# --- screening -------------------------------------------------------------------------------


@dg.multi_asset_check(
    name="score_history_checks",
    specs=[
        dg.AssetCheckSpec(
            "every_registered_patient_screened_once",
            asset="score_history",
            description="each patient registered on the reference date has exactly one row",
        ),
        dg.AssetCheckSpec(
            "score_is_weighted_sum_of_flags",
            asset="score_history",
            description="score = sum of the weights of the scored characteristics that hold",
        ),
    ],
    can_subset=True,
)
@values_withheld
def score_history_checks(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> Iterator[dg.AssetCheckResult]:
    """Re-plans the quarters the run's deliveries screen (from the deliveries in force) and checks
    the stored score history of each against the raw patients and the profile's weights, in one
    pass over the batch."""
    deliveries = deliveries_of(context)
    once: list[str] = []
    score: list[str] = []
    rows = 0
    with store.connect() as conn:
        for profile in omu.screening_profiles():
            label = f"{profile.name} v{profile.version}"
            plan = screening_plan(conn, profile, deliveries=deliveries)
            problems = screening_checks(conn, profile, plan=plan)
            register_temp_table(conn, "checked_work", plan.work.select("practice_id", "quarter"))
            stored = dict(
                conn.execute(
                    "SELECT w.practice_id, count(h.patient_id) FROM checked_work AS w "
                    "LEFT JOIN score_history AS h ON h.practice_id = w.practice_id AND h.quarter = w.quarter "
                    "AND h.profile_name = ? AND h.profile_version = ? GROUP BY w.practice_id",
                    [profile.name, profile.version],
                ).fetchall()
            )
            rows += sum(stored.values())
            for practice_id, quarter in deliveries:
                planned = plan.work.filter(pl.col("practice_id") == practice_id)["quarter"].to_list()
                if not planned:
                    once.append(f"{label}: no quarter to screen from a delivery of {practice_id} {quarter}")
                elif not stored.get(practice_id):
                    missing = f"{label}: no row in score_history of {practice_id} for {', '.join(planned)}"
                    once.append(missing)
                    score.append(missing)
            once += [
                f"{label} {r['practice_id']} {r['quarter']}: {r['registered']} registered, {r['screened']} rows, "
                f"{r['distinct_patients']} distinct patients"
                for r in problems["screened_once"].iter_rows(named=True)
            ]
            if problems["score_sum"].height:
                score.append(f"{label}: {problems['score_sum'].height} scores are not the weighted sum")
    for name, found in (
        ("every_registered_patient_screened_once", once),
        ("score_is_weighted_sum_of_flags", score),
    ):
        key = dg.AssetCheckKey(dg.AssetKey("score_history"), name)
        if key in context.selected_asset_check_keys:
            yield _result(key, found, f"{rows} stored rows checked", rows_checked=rows)


@dg.asset_check(
    asset="first_time_crossers",
    name="no_first_time_crosser_was_over_before",
    description="every screening.csv this delivery wrote holds the quarter's stored rows, and each "
    "first-time crosser in it is over the threshold now and was below it in every earlier stored quarter",
)
@values_withheld
def no_first_time_crosser_was_over_before(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.AssetCheckResult:
    """Reads every screening.csv the run wrote back (one read over all of them) and holds its
    first-time crossers against score_history."""
    deliveries = deliveries_of(context)
    home = omu.omu_home()
    problems: list[str] = []
    crossers = 0
    with store.connect() as conn:
        for profile in omu.screening_profiles():
            label = f"{profile.name} v{profile.version}"
            work = screening_plan(conn, profile, deliveries=deliveries).work
            for practice_id, quarter in deliveries:
                if not work.filter(pl.col("practice_id") == practice_id).height:
                    problems.append(
                        f"{label}: no quarter to screen from a delivery of {practice_id} {quarter}"
                    )
            paths = [
                (
                    practice_id,
                    quarter,
                    home.practice_out(quarter, practice_id, profile.output_folder) / "screening.csv",
                )
                for practice_id, quarter in work.select("practice_id", "quarter").iter_rows()
            ]
            problems += [
                f"{label} {practice_id} {quarter}: screening.csv not written"
                for practice_id, quarter, path in paths
                if not path.is_file()
            ]
            written = pl.DataFrame(
                [(practice_id, quarter, str(path)) for practice_id, quarter, path in paths if path.is_file()],
                schema={"practice_id": pl.String, "quarter": pl.String, "path": pl.String},
                orient="row",
            )
            if not written.height:
                continue
            register_temp_table(conn, "checked_files", written)
            rows = conn.execute(
                _FIRST_TIME_SQL,
                {
                    "paths": [literal_path(p) for p in written["path"]],
                    "name": profile.name,
                    "version": profile.version,
                },
            ).fetchall()
            for practice_id, quarter, in_file, stored, first, before, not_over in rows:
                crossers += first
                where = f"{label} {practice_id} {quarter}"
                if not stored or in_file != stored:
                    problems.append(f"{where}: {in_file} rows in screening.csv, {stored} stored")
                if before:
                    problems.append(f"{where}: {before} first-time crossers were over before")
                if not_over:
                    problems.append(f"{where}: {not_over} first-time crossers are not over now")
    return _result(
        dg.AssetCheckKey(dg.AssetKey("first_time_crossers"), "no_first_time_crosser_was_over_before"),
        problems,
        f"{crossers} first-time crossers in the written files checked",
        first_time_crossers=crossers,
    )


# every screening.csv of the run read as text (the patient ids stay in DuckDB), per practice-quarter:
# rows in the file, rows stored, first-time crossers, of them over before, of them not over now
_FIRST_TIME_SQL = """
WITH file AS (
    SELECT w.practice_id, w.quarter, f.patient_id, lower(f.first_time) = 'true' AS first
    FROM read_csv($paths, all_varchar = true, header = true, filename = true, union_by_name = true) AS f
    JOIN checked_files AS w ON w.path = f.filename
),
history AS (
    SELECT h.* FROM score_history AS h
    WHERE h.practice_id IN (SELECT practice_id FROM checked_files)
      AND h.profile_name = $name AND h.profile_version = $version
),
in_files AS (
    SELECT practice_id, quarter, count(*) AS in_file, count(*) FILTER (WHERE first) AS first
    FROM file GROUP BY ALL
),
stored AS (
    SELECT h.practice_id, h.quarter, count(*) AS stored
    FROM history AS h JOIN checked_files AS w USING (practice_id, quarter) GROUP BY ALL
),
over_before AS (
    SELECT f.practice_id, f.quarter, count(*) AS before FROM file AS f
    WHERE f.first AND EXISTS (SELECT 1 FROM history AS h WHERE h.practice_id = f.practice_id
                              AND h.patient_id = f.patient_id AND h.quarter < f.quarter AND h.over_threshold)
    GROUP BY ALL
),
not_over AS (
    SELECT f.practice_id, f.quarter, count(*) AS not_over FROM file AS f
    WHERE f.first AND NOT EXISTS (SELECT 1 FROM history AS h WHERE h.practice_id = f.practice_id
                                  AND h.patient_id = f.patient_id AND h.quarter = f.quarter AND h.over_threshold)
    GROUP BY ALL
)
SELECT w.practice_id, w.quarter, coalesce(i.in_file, 0), coalesce(s.stored, 0), coalesce(i.first, 0),
       coalesce(b.before, 0), coalesce(n.not_over, 0)
FROM checked_files AS w
LEFT JOIN in_files AS i USING (practice_id, quarter)
LEFT JOIN stored AS s USING (practice_id, quarter)
LEFT JOIN over_before AS b USING (practice_id, quarter)
LEFT JOIN not_over AS n USING (practice_id, quarter)
ORDER BY ALL
"""


# --- outreach --------------------------------------------------------------------------------


@dg.asset_check(
    asset="outreach_list",
    name="only_this_practice",
    description="every patient in the practice's list files is one the store screened for that practice",
)
@values_withheld
def only_this_practice(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.AssetCheckResult:
    """Reads outreach.xlsx (lists and follow-up sheet), baseline.xlsx and outreach.csv back."""
    from omu.evaluation.followup import read_followup_rows

    def one(practice_id: str, quarter: str) -> dg.AssetCheckResult:
        home = omu.omu_home()
        with store.connect() as conn:
            own = _store_patient_ids(conn, practice_id)
        problems: list[str] = []
        foreign: set[str] = set()
        files = 0
        for profile in omu.screening_profiles():
            folder = home.practice_out(quarter, practice_id, profile.output_folder)
            missing = [name for name in ("outreach.xlsx", "outreach.csv") if not (folder / name).is_file()]
            if missing:
                problems.append(f"{profile.name} v{profile.version}: {', '.join(missing)} not written")
                continue
            in_files = set(
                pl.read_csv(folder / "outreach.csv", separator=";", infer_schema=False)[
                    column_header("patient_id")
                ].drop_nulls()
            )
            for name in ("outreach.xlsx", "baseline.xlsx"):
                if (folder / name).is_file():
                    in_files |= set(read_outcome_file(folder / name)["patient_id"].drop_nulls())
                    files += 1
            in_files |= set(read_followup_rows(folder / "outreach.xlsx")["patient_id"].drop_nulls())
            files += 1
            foreign |= in_files - own
        if foreign:
            problems.append(
                f"{len(foreign)} patients in the files are not screened patients of {practice_id}"
            )
        return _result(
            dg.AssetCheckKey(dg.AssetKey("outreach_list"), "only_this_practice"),
            problems,
            f"{files} files of {practice_id} {quarter} read back",
            foreign_patients=len(foreign),
            files_read=files,
        )

    return _single_result(context, one)


# --- region ----------------------------------------------------------------------------------


def _shown_small_counts(wide: pl.DataFrame, columns: list[str]) -> int:
    """Person counts that break the rule: 1-7 shown, or not a multiple of the rounding base."""
    bad = 0
    for column in columns:
        values = wide.get_column(column).drop_nulls()
        bad += int(((values >= PRIMARY_MIN) & (values <= PRIMARY_MAX)).sum())
        bad += int((values % ROUNDING_BASE != 0).sum())
    return bad


REGION_FILES = ("indicators.csv", "indicators.xlsx", "dashboard.html")


@dg.multi_asset_check(
    name="regional_indicators_checks",
    specs=[
        dg.AssetCheckSpec(
            "no_small_counts_shown",
            asset="regional_indicators",
            description="no stored person count is 1-7 and every one is a multiple of 5",
        ),
        dg.AssetCheckSpec(
            "figures_from_published_counts",
            asset="regional_indicators",
            description="every stored percentage, rate and interval is computed from the published "
            "(rounded) counts, never from exact ones",
        ),
        dg.AssetCheckSpec(
            "disclosure_audit_passes",
            asset="regional_indicators",
            description="stored counts are the newest disclosure-ledger version, hidden once stays "
            "hidden, and an integer-programming audit of every version pins no count "
            "and confines none to 1-7",
        ),
    ],
    can_subset=True,
)
@values_withheld
def regional_indicators_checks(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> Iterator[dg.AssetCheckResult]:
    """Reads table `indicators` (every quarter up to this one) and the disclosure ledger back."""
    quarter = context.op_execution_context.partition_key
    selected = context.selected_asset_check_keys
    small: list[str] = []
    derived: list[str] = []
    ledger: list[str] = []
    areas = 0
    for profile in omu.screening_profiles():
        label = f"{profile.name} v{profile.version}"
        with store.connect() as conn:
            wide = read_indicators(conn, profile, quarter)
            current = wide.filter(pl.col("quarter") == quarter)
            areas += current.height
            if not current.height:
                for problems in (small, derived, ledger):
                    problems.append(f"{label}: no indicators stored for {quarter}")
                continue
            if dg.AssetCheckKey(dg.AssetKey("regional_indicators"), "disclosure_audit_passes") in selected:
                ledger += [f"{label}: {p}" for p in ledger_violations(conn, profile, quarter, wide)]
        shown = _shown_small_counts(wide, person_count_columns(profile))
        if shown:
            small.append(f"{label}: {shown} person counts shown as 1-7 or not a multiple of {ROUNDING_BASE}")
        derived += [f"{label}: {p}" for p in derived_violations(wide, profile)]
    # the messages name areas and indicators only (aggregates), never a person
    for name, problems in (
        ("no_small_counts_shown", small),
        ("figures_from_published_counts", derived),
        ("disclosure_audit_passes", ledger),
    ):
        key = dg.AssetCheckKey(dg.AssetKey("regional_indicators"), name)
        if key in selected:
            yield _result(key, problems, f"{areas} areas of {quarter} checked", areas_checked=areas)


@dg.asset_check(
    asset="regional_dashboard",
    name="no_patient_id_under_region",
    description="the region's files are there and no patient_id of the store appears in any file under region/",
)
@values_withheld
def no_patient_id_under_region(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.AssetCheckResult:
    """Scans every file under out/<quarter>/region/ for every patient_id in the store."""
    quarter = context.op_execution_context.partition_key
    home = omu.omu_home()
    with store.connect() as conn:
        ids = _store_patient_ids(conn)
    problems = [
        f"{profile.name} v{profile.version}: {name} missing"
        for profile in omu.screening_profiles()
        for name in REGION_FILES
        if not (home.region_out(quarter, profile.output_folder) / name).is_file()
    ]
    if not ids:
        problems.append("no patient_id in the store to look for")
    folder = home.region_out(quarter)
    leaks = patient_ids_in(folder, ids) if folder.is_dir() else {}
    problems += [f"{Path(path).relative_to(folder)} holds a patient_id" for path in sorted(leaks)]
    return _result(
        dg.AssetCheckKey(dg.AssetKey("regional_dashboard"), "no_patient_id_under_region"),
        problems,
        f"every file under region/ of {quarter} scanned for {len(ids)} patient_ids",
        files_with_patient_ids=len(leaks),
    )


# --- feedback and evaluation -----------------------------------------------------------------


@dg.asset_check(
    asset="practice_feedback",
    name="no_patient_id_in_feedback",
    description="the report is written and holds counts only: no patient_id of the store in it",
)
@values_withheld
def no_patient_id_in_feedback(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> dg.AssetCheckResult:
    """Scans the written feedback.html for every patient_id in the store."""
    from omu.evaluation.feedback import FEEDBACK_HTML

    with store.connect() as conn:
        ids = _store_patient_ids(conn)
    search = PatientIdSearch(ids)

    def one(practice_id: str, quarter: str) -> dg.AssetCheckResult:
        path = omu.omu_home().practice_out(quarter, practice_id) / FEEDBACK_HTML
        problems = []
        if not path.is_file():
            problems.append(f"{FEEDBACK_HTML} of {practice_id} {quarter} not written")
        elif not ids:
            problems.append("no patient_id in the store to look for")
        found = len(search.in_files([path]).get(str(path), ())) if path.is_file() else 0
        if found:
            problems.append(f"{FEEDBACK_HTML} holds {found} patient_ids")
        return _result(
            dg.AssetCheckKey(dg.AssetKey("practice_feedback"), "no_patient_id_in_feedback"),
            problems,
            f"{FEEDBACK_HTML} scanned for {len(ids)} patient_ids",
            patient_ids_found=found,
        )

    return _single_result(context, one)


@dg.multi_asset_check(
    name="regional_evaluation_checks",
    specs=[
        dg.AssetCheckSpec(
            "evaluation_counts_suppressed",
            asset="regional_evaluation",
            description="the evaluation is stored and no published count of it is 1-7; every one is a "
            "multiple of 5",
        ),
        dg.AssetCheckSpec(
            "no_patient_id_in_evaluation",
            asset="regional_evaluation",
            description="region/evaluation.csv and .html are written and no patient_id of the store is in "
            "them or anywhere else under region/",
        ),
    ],
    can_subset=True,
)
@values_withheld
def regional_evaluation_checks(
    context: dg.AssetCheckExecutionContext, omu: OmuSettings, store: DuckDBStore
) -> Iterator[dg.AssetCheckResult]:
    """Reads table outreach_evaluation and the files under out/<quarter>/region/ back."""
    quarter = context.op_execution_context.partition_key
    profile = omu.screening_profile()
    folder = omu.omu_home().region_out(quarter)
    with store.connect() as conn:
        ids = _store_patient_ids(conn)
        run_sql(conn, "evaluation/results_schema")  # never run: no table, and the check fails below
        stored = conn.sql(
            "SELECT measure, value FROM outreach_evaluation WHERE quarter = $1 AND profile_name = $2 "
            "AND profile_version = $3",
            params=[quarter, profile.name, profile.version],
        ).pl()
    counts = stored.filter(pl.col("measure").is_in(["n", "events", *FUNNEL_STEPS, *WORKLOAD]))[
        "value"
    ].drop_nulls()
    bad = int(((counts >= PRIMARY_MIN) & (counts <= PRIMARY_MAX)).sum() + (counts % ROUNDING_BASE != 0).sum())
    suppressed = []
    if not stored.height:
        suppressed.append(f"no evaluation of {profile.name} v{profile.version} stored for {quarter}")
    if bad:
        suppressed.append(f"{bad} published counts are 1-7 or not a multiple of {ROUNDING_BASE}")
    key = dg.AssetCheckKey(dg.AssetKey("regional_evaluation"), "evaluation_counts_suppressed")
    if key in context.selected_asset_check_keys:
        yield _result(
            key, suppressed, f"{counts.len()} published counts checked", counts_checked=counts.len()
        )
    leaks = patient_ids_in(folder, ids) if folder.is_dir() else {}
    private = [
        f"{name} missing" for name in (EVALUATION_CSV, EVALUATION_HTML) if not (folder / name).is_file()
    ]
    if not ids:
        private.append("no patient_id in the store to look for")
    private += [f"{Path(path).relative_to(folder)} holds a patient_id" for path in sorted(leaks)]
    key = dg.AssetCheckKey(dg.AssetKey("regional_evaluation"), "no_patient_id_in_evaluation")
    if key in context.selected_asset_check_keys:
        yield _result(
            key,
            private,
            f"every file under region/ of {quarter} scanned for {len(ids)} patient_ids",
            files_with_patient_ids=len(leaks),
        )


ASSET_CHECKS = [
    ingest_checks,
    score_history_checks,
    no_first_time_crosser_was_over_before,
    only_this_practice,
    regional_indicators_checks,
    no_patient_id_under_region,
    no_patient_id_in_feedback,
    regional_evaluation_checks,
]


def checks_for(assets: list[dg.AssetsDefinition]) -> list[dg.AssetChecksDefinition]:
    """The checks of these assets, to materialise with them (`dg.materialize([*assets, *checks_for(assets)])`)."""
    keys = {key for asset in assets for key in asset.keys}
    return [c for c in ASSET_CHECKS if all(k.asset_key in keys for k in c.check_keys)]
