"""Baseline (b): the six flags, the note and the score in plain pandas, written the obvious way.

The same definitions as the profile (clinical/profiles/omu-basis-v1.yaml) and the screening SQL
(sql/screening/), on the same work: every (practice, quarter, source delivery) of the screening
plan. It is vectorised the way a pandas user would write it — boolean masks, merges and
group-bys over all practices at once, one pass per reference date — not a row-by-row loop, so
the comparison is with reasonable pandas, not with a straw man. Codelists come from the loaded
profile. `compare_with_sql` proves it gives the same flags as the SQL screening.
"""

from __future__ import annotations

from typing import Any

import duckdb
import pandas as pd
import polars as pl

from omu.screening.profile import Profile
from omu.screening.screen import screening_plan

KEY = ["practice_id", "source_quarter", "patient_id"]
FLAGS = (
    "older_than_55",
    "lives_alone",
    "visual_impairment",
    "hearing_impairment",
    "beta_blocker",
    "saba_only_asthma",
)
NOTES = ("heavy_reliever_use",)
SCORED = FLAGS  # weight 1 each in omu-basis v1
THRESHOLD = 3

TABLE_COLUMNS = {
    "patients": [
        "practice_id",
        "quarter",
        "patient_id",
        "birth_year",
        "birth_month",
        "sex",
        "wijk_code",
        "registered_from",
        "registered_until",
    ],
    "episodes": ["practice_id", "quarter", "patient_id", "icpc", "start_date", "end_date"],
    "prescriptions": ["practice_id", "quarter", "patient_id", "atc", "prescribed_on", "quantity"],
    "determinations": ["practice_id", "quarter", "patient_id", "code", "measured_on", "value"],
}
DATE_COLUMNS = (
    "registered_from",
    "registered_until",
    "start_date",
    "end_date",
    "prescribed_on",
    "measured_on",
)


def load_tables(conn: duckdb.DuckDBPyConnection) -> dict[str, pd.DataFrame]:
    """The store's raw tables of the deliveries in force, as pandas frames (dates as datetime64)."""
    tables = {}
    for table, columns in TABLE_COLUMNS.items():
        frame = conn.sql(
            f"SELECT {', '.join('t.' + c for c in columns)} FROM {table} AS t "
            "JOIN current_deliveries AS d USING (practice_id, quarter)"
        ).df()
        for column in DATE_COLUMNS:
            if column in frame.columns:
                frame[column] = pd.to_datetime(frame[column])
        tables[table] = frame.rename(columns={"quarter": "source_quarter"})
    return tables


def load_plan(conn: duckdb.DuckDBPyConnection, profile: Profile) -> pd.DataFrame:
    """The plan screen() follows over every delivery in force (backfill included)."""
    planned = screening_plan(conn, profile).plan
    plan = planned.select("practice_id", "quarter", "source_quarter", "reference_date").to_pandas()
    plan["reference_date"] = pd.to_datetime(plan["reference_date"])
    return plan


def _codes(profile: Profile, name: str) -> list[str]:
    return profile.codelists[name]["code"].to_list()


def _icpc_in(codes: pd.Series, codelist: list[str]) -> pd.Series:
    """ICPC code in the codelist; sub-codes count (F94 covers F94.01)."""
    return codes.isin(codelist) | codes.str.startswith(tuple(code + "." for code in codelist))


def _atc_in(codes: pd.Series, codelist: list[str]) -> pd.Series:
    return codes.str.startswith(tuple(codelist))


def _keys(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[KEY].drop_duplicates()


def _mark(population: pd.DataFrame, hits: pd.DataFrame, name: str) -> pd.DataFrame:
    marked = population.merge(_keys(hits).assign(**{name: True}), on=KEY, how="left")
    marked[name] = marked[name].fillna(False).astype(bool)
    return marked


def screen_pandas(tables: dict[str, pd.DataFrame], plan: pd.DataFrame, profile: Profile) -> pd.DataFrame:
    """One row per patient registered on each planned reference date, with the flags, the note,
    the score and over_threshold."""
    visual = _codes(profile, "visual_impairment")
    hearing = _codes(profile, "hearing_impairment")
    asthma = _codes(profile, "asthma")
    beta = _codes(profile, "beta_blockers")
    saba = _codes(profile, "saba")
    ics = _codes(profile, "ics")
    living = profile.codelists["living_alone"]
    living_codes = living["code"].to_list()
    living_answers = {
        (str(code), str(value).strip().lower())
        for code, value in zip(living["code"].to_list(), living["value"].to_list(), strict=True)
    }

    patients, episodes = tables["patients"], tables["episodes"]
    prescriptions, determinations = tables["prescriptions"], tables["determinations"]
    results = []
    for (quarter_key, reference_key), work in plan.groupby(["quarter", "reference_date"]):
        quarter, reference = str(quarter_key), pd.Timestamp(str(reference_key))
        work = work[["practice_id", "source_quarter"]]
        people = patients.merge(work, on=["practice_id", "source_quarter"])
        people = people[
            (people["registered_from"] <= reference)
            & (people["registered_until"].isna() | (people["registered_until"] > reference))
        ].copy()
        later_month = people["birth_month"].fillna(0) > reference.month
        people["age"] = (reference.year - people["birth_year"] - later_month.astype(int)).astype(int)
        people["older_than_55"] = people["age"] >= 56
        people = people[KEY + ["sex", "wijk_code", "age", "older_than_55"]]

        ep = episodes.merge(work, on=["practice_id", "source_quarter"])
        active = ep[(ep["start_date"] <= reference) & (ep["end_date"].isna() | (ep["end_date"] >= reference))]
        people = _mark(people, active[_icpc_in(active["icpc"], visual)], "visual_impairment")
        people = _mark(people, active[_icpc_in(active["icpc"], hearing)], "hearing_impairment")
        active_asthma = active[_icpc_in(active["icpc"], asthma)]

        rx = prescriptions.merge(work, on=["practice_id", "source_quarter"])
        rx = rx[rx["prescribed_on"] <= reference]
        rx_180 = rx[rx["prescribed_on"] >= reference - pd.Timedelta(days=180)]
        rx_365 = rx[rx["prescribed_on"] >= reference - pd.Timedelta(days=365)]
        people = _mark(people, rx_180[_atc_in(rx_180["atc"], beta)], "beta_blocker")
        saba_365 = rx_365[_atc_in(rx_365["atc"], saba)]
        ics_365 = rx_365[_atc_in(rx_365["atc"], ics)]
        only_saba = _keys(active_asthma).merge(_keys(saba_365), on=KEY)
        only_saba = only_saba.merge(_keys(ics_365).assign(ics=True), on=KEY, how="left")
        people = _mark(people, only_saba[only_saba["ics"].isna()], "saba_only_asthma")
        units = (
            saba_365.assign(units=saba_365["quantity"].fillna(1)).groupby(KEY, as_index=False)["units"].sum()
        )
        people = _mark(people, units[units["units"] >= 3], "heavy_reliever_use")

        det = determinations.merge(work, on=["practice_id", "source_quarter"])
        det = det[det["code"].astype(str).isin(living_codes) & (det["measured_on"] <= reference)].copy()
        det["latest"] = det.groupby(KEY)["measured_on"].transform("max")
        latest = det[det["measured_on"] == det["latest"]]
        answer = pd.Series(
            list(zip(latest["code"].astype(str), latest["value"].str.strip().str.lower(), strict=True)),
            index=latest.index,
            dtype=object,
        )
        people = _mark(people, latest[answer.isin(living_answers)], "lives_alone")

        people["score"] = people[list(SCORED)].sum(axis=1).astype(int)
        people["over_threshold"] = people["score"] >= THRESHOLD
        people.insert(1, "quarter", quarter)
        results.append(people)
    columns = [
        "practice_id",
        "quarter",
        *KEY[1:],
        "sex",
        "wijk_code",
        "age",
        *FLAGS,
        *NOTES,
        "score",
        "over_threshold",
    ]
    if not results:
        return pd.DataFrame(columns=columns)
    return pd.concat(results, ignore_index=True)[columns]


def compare_with_sql(
    conn: duckdb.DuckDBPyConnection, frame: pd.DataFrame | pl.DataFrame, profile: Profile
) -> dict[str, Any]:
    """Join the pandas (or polars) rows with score_history on (practice, quarter, patient): the same rows, and
    every flag, the note, the age and the score equal. Returns counts; `equal` says it all."""
    columns = ["age", *FLAGS, *NOTES, "score", "over_threshold"]
    conn.register("pandas_flags", frame)
    try:
        (sql_rows, pandas_rows, only_sql, only_pandas, differing) = conn.sql(
            f"""
            WITH s AS (SELECT practice_id, quarter, patient_id, {", ".join(columns)} FROM score_history
                       WHERE profile_name = $name AND profile_version = $version
                         AND (practice_id, quarter) IN (SELECT (practice_id, quarter) FROM pandas_flags)),
                 p AS (SELECT practice_id, quarter, patient_id, {", ".join(columns)} FROM pandas_flags)
            SELECT (SELECT count(*) FROM s), (SELECT count(*) FROM p),
                   (SELECT count(*) FROM (SELECT practice_id, quarter, patient_id FROM s
                                          EXCEPT SELECT practice_id, quarter, patient_id FROM p)),
                   (SELECT count(*) FROM (SELECT practice_id, quarter, patient_id FROM p
                                          EXCEPT SELECT practice_id, quarter, patient_id FROM s)),
                   (SELECT count(*) FROM s JOIN p USING (practice_id, quarter, patient_id)
                    WHERE {" OR ".join(f"s.{c} IS DISTINCT FROM p.{c}" for c in columns)})
            """,
            params={"name": profile.name, "version": profile.version},
        ).fetchall()[0]
        per_flag = conn.sql(
            f"""SELECT {", ".join(f"count(*) FILTER (WHERE p.{c})" for c in (*FLAGS, *NOTES, "over_threshold"))}
                FROM pandas_flags AS p"""
        ).fetchall()[0]
    finally:
        conn.unregister("pandas_flags")
    return {
        "equal": sql_rows == pandas_rows and only_sql == 0 and only_pandas == 0 and differing == 0,
        "sql_rows": sql_rows,
        "pandas_rows": pandas_rows,
        "only_in_sql": only_sql,
        "only_in_pandas": only_pandas,
        "rows_differing": differing,
        "true_counts": dict(zip((*FLAGS, *NOTES, "over_threshold"), per_flag, strict=True)),
    }
