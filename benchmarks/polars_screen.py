"""Baseline (c): the six flags, the note and the score in polars' lazy API, as a data engineer writes it.

The same definitions and the same work as `benchmarks/pandas_screen.py` (every practice-quarter of
the screening plan, with backfill), but set-based the polars way: the plan is joined to each table
once, so every reference date is screened in one lazy query per table (no loop over dates), each
criterion is an expression aggregated per patient-quarter, and polars' optimiser pushes the filters
and projections down. Input: the store's raw tables of the deliveries in force, loaded once as
polars frames (its own row, not in the ratio). `benchmarks.pandas_screen.compare_with_sql` proves
the output equal to the SQL screening, row by row.
"""

from __future__ import annotations

import re

import duckdb
import polars as pl

from benchmarks.pandas_screen import FLAGS, NOTES, SCORED, TABLE_COLUMNS, THRESHOLD
from omu.screening.profile import Profile

# one row per patient and screened quarter of one source delivery
KEY = ["practice_id", "quarter", "source_quarter", "patient_id"]
DELIVERY = ["practice_id", "source_quarter"]


def load_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pl.DataFrame]:
    """The store's raw tables of the deliveries in force, as polars frames (DuckDB hands them over
    as Arrow, dates stay dates)."""
    return {
        table: conn.sql(
            f"SELECT {', '.join('t.' + c for c in columns)} FROM {table} AS t "
            "JOIN current_deliveries AS d USING (practice_id, quarter)"
        )
        .pl()
        .rename({"quarter": "source_quarter"})
        for table, columns in TABLE_COLUMNS.items()
    }


def load_plan(conn: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """The screening plan of the last screen()/plan_work on this connection (temp table screen_plan)."""
    return conn.sql("SELECT practice_id, quarter, source_quarter, reference_date FROM screen_plan").pl()


def _prefixes(codes: list[str], *, dotted: bool) -> str:
    """A regular expression for 'starts with one of the codes' (ICPC: the code itself or a sub-code)."""
    alternatives = "|".join(re.escape(code) for code in codes)
    return f"^({alternatives})(\\..*)?$" if dotted else f"^({alternatives})"


def screen_polars(tables: dict[str, pl.DataFrame], plan: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """One row per patient registered on each planned reference date, with the flags, the note,
    the score and over_threshold (the columns of `screen_pandas`)."""
    codes = {name: frame["code"].cast(pl.String).to_list() for name, frame in profile.codelists.items()}
    living = profile.codelists["living_alone"]
    answers = pl.DataFrame(
        {
            "code": living["code"].cast(pl.String),
            "answer": living["value"].cast(pl.String).str.strip_chars().str.to_lowercase(),
        }
    ).lazy()
    work = plan.lazy()
    reference = pl.col("reference_date")

    people = (
        tables["patients"]
        .lazy()
        .join(work, on=DELIVERY)
        .filter(
            (pl.col("registered_from") <= reference)
            & (pl.col("registered_until").is_null() | (pl.col("registered_until") > reference))
        )
        .with_columns(
            age=(
                reference.dt.year()
                - pl.col("birth_year")
                - (pl.col("birth_month").fill_null(0) > reference.dt.month()).cast(pl.Int32)
            ).cast(pl.Int64)
        )
        .with_columns(older_than_55=pl.col("age") >= 56)
        .select(*KEY, "sex", "wijk_code", "age", "older_than_55")
    )

    icpc = pl.col("icpc")
    episodes = (
        tables["episodes"]
        .lazy()
        .join(work, on=DELIVERY)
        .filter(
            (pl.col("start_date") <= reference)
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= reference))
        )
        .group_by(KEY)
        .agg(
            visual_impairment=icpc.str.contains(_prefixes(codes["visual_impairment"], dotted=True)).any(),
            hearing_impairment=icpc.str.contains(_prefixes(codes["hearing_impairment"], dotted=True)).any(),
            asthma=icpc.str.contains(_prefixes(codes["asthma"], dotted=True)).any(),
        )
    )

    atc = pl.col("atc")
    saba = atc.str.contains(_prefixes(codes["saba"], dotted=False))
    prescriptions = (
        tables["prescriptions"]
        .lazy()
        .join(work, on=DELIVERY)
        .filter(
            (pl.col("prescribed_on") <= reference)
            & (pl.col("prescribed_on") >= reference - pl.duration(days=365))
        )
        .group_by(KEY)
        .agg(
            beta_blocker=(
                atc.str.contains(_prefixes(codes["beta_blockers"], dotted=False))
                & (pl.col("prescribed_on") >= reference - pl.duration(days=180))
            ).any(),
            saba=saba.any(),
            ics=atc.str.contains(_prefixes(codes["ics"], dotted=False)).any(),
            saba_units=pl.col("quantity").fill_null(1).filter(saba).sum(),
        )
    )

    lives_alone = (
        tables["determinations"]
        .lazy()
        .with_columns(pl.col("code").cast(pl.String))
        .filter(pl.col("code").is_in(codes["living_alone"]))
        .join(work, on=DELIVERY)
        .filter(pl.col("measured_on") <= reference)
        .filter(pl.col("measured_on") == pl.col("measured_on").max().over(KEY))
        .with_columns(answer=pl.col("value").cast(pl.String).str.strip_chars().str.to_lowercase())
        .join(answers, on=["code", "answer"], how="semi")
        .select(KEY)
        .unique()
        .with_columns(lives_alone=pl.lit(True))
    )

    flag = {name: pl.col(name).fill_null(False) for name in ("visual_impairment", "hearing_impairment")}
    screened = (
        people.join(episodes, on=KEY, how="left")
        .join(prescriptions, on=KEY, how="left")
        .join(lives_alone, on=KEY, how="left")
        .with_columns(
            **flag,
            lives_alone=pl.col("lives_alone").fill_null(False),
            beta_blocker=pl.col("beta_blocker").fill_null(False),
            saba_only_asthma=(
                pl.col("asthma").fill_null(False)
                & pl.col("saba").fill_null(False)
                & ~pl.col("ics").fill_null(False)
            ),
            heavy_reliever_use=pl.col("saba_units").fill_null(0) >= 3,
        )
        .with_columns(score=pl.sum_horizontal([pl.col(f).cast(pl.Int64) for f in SCORED]))
        .with_columns(over_threshold=pl.col("score") >= THRESHOLD)
        .select(
            "practice_id",
            "quarter",
            "source_quarter",
            "patient_id",
            "sex",
            "wijk_code",
            "age",
            *FLAGS,
            *NOTES,
            "score",
            "over_threshold",
        )
    )
    return screened.collect()
