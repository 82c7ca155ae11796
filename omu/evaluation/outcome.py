"""Outcome after outreach (regional): unplanned care in the 12 months after the list's quarter for
reached, not reached and declined patients, adjusted for what predicted it anyway.

The cohort and the outcome are SQL (sql/evaluation/cohort.sql, then the risk model's own
sql/model/outcome.sql on it). The comparison is a binomial model with a complementary log-log
link, ``cloglog P(event in window) = a + b_group + covariates``: under proportional hazards over the
window exp(b) is the hazard ratio of the group against "not reached". Covariates: the predicted
risk on the list (as cloglog; the score when a list had no model), age (per 10 years) and sex.
95% Wald intervals. It is an observational comparison, not a trial: who is reached is not random.

Disclosure: every published count goes through omu.dashboards.suppression.suppress_count; crude
percentages are computed from the shown (rounded) counts only; a group's hazard ratio is shown only
when its count and its events are shown (and the reference group's too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from omu.dashboards.stats import wilson_interval, z_value
from omu.dashboards.suppression import suppress_count
from omu.evaluation.followup import prepare as prepare_followups
from omu.file_writing import atomic_path, write_text_atomically
from omu.models.features import register_model_tables
from omu.models.outcome import Outcome
from omu.outreach.lists import prepare_outreach_store
from omu.reference import outcome_values
from omu.render import render, safe
from omu.screening.profile import Profile
from omu.sql import query, run_sql

GROUPS = ("bereikt", "niet_bereikt", "afgezien")  # compared; niet_bereikt is the reference
REFERENCE = "niet_bereikt"
# a group's label names the outcome values in it (clinical/reference/outcomes.csv: evaluation_group)
GROUP_LABELS = {
    group: " of ".join(v.label for v in outcome_values() if v.evaluation_group == group) for group in GROUPS
}
FUNNEL_STEPS = ("crossed", "listed", "attempted", "reached", "referred", "arrived")
FUNNEL_LABELS = {
    "crossed": "Eerste keer boven drempel",
    "listed": "Op de belijst",
    "attempted": "Poging teruggemeld",
    "reached": "Bereikt",
    "referred": "Verwezen",
    "arrived": "Aangekomen",
}
OBSERVATIONAL = (
    "Dit is een observationele vergelijking, geen gerandomiseerde studie: wie bereikt wordt, "
    "verschilt ook op andere punten van wie niet bereikt wordt. Gecorrigeerd is alleen voor het "
    "voorspelde risico (of de score), leeftijd en geslacht; een verschil is geen bewezen effect "
    "van de outreach."
)
EVALUATION_HTML, EVALUATION_CSV = "evaluation.html", "evaluation.csv"
MIN_EVENTS_TO_FIT = 10
WORKLOAD = ("asked", "listed", "backlog", "contacted_in_quarter")


@dataclass
class Effect:
    hazard_ratio: float | None
    lower: float | None
    upper: float | None


@dataclass
class RegionEvaluation:
    quarter: str
    groups: (
        pl.DataFrame
    )  # group, n, events (shown: suppressed), pct, pct_lower, pct_upper, hr, hr_lower, hr_upper
    funnel: pl.DataFrame  # quarter (or 'cumulatief'), FUNNEL_STEPS (shown), median_days
    adjusted_for: str
    workload: pl.DataFrame = field(
        default_factory=pl.DataFrame
    )  # practice_id, quarter, capacity, WORKLOAD (shown)


# --------------------------------------------------------------------------------------------
# The model: binomial GLM with a complementary log-log link, fitted by IRLS
# --------------------------------------------------------------------------------------------


def fit_cloglog(y: np.ndarray, x: np.ndarray, iterations: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients and their standard errors of P(y=1) = 1 - exp(-exp(x @ beta)); x includes the intercept."""
    y = np.asarray(y, dtype=float)
    beta = np.zeros(x.shape[1])
    beta[0] = np.log(-np.log(1 - np.clip(y.mean(), 1e-6, 1 - 1e-6)))
    for _ in range(iterations):
        eta = np.clip(x @ beta, -30, 5)
        mu = np.clip(-np.expm1(-np.exp(eta)), 1e-10, 1 - 1e-10)
        d_mu = np.exp(eta - np.exp(eta))  # dmu/deta
        weight = d_mu**2 / (mu * (1 - mu))
        z = eta + (y - mu) / d_mu
        xw = x * weight[:, None]
        new = np.linalg.solve(x.T @ xw, xw.T @ z)
        if np.max(np.abs(new - beta)) < 1e-9:
            beta = new
            break
        beta = new
    eta = np.clip(x @ beta, -30, 5)
    mu = np.clip(-np.expm1(-np.exp(eta)), 1e-10, 1 - 1e-10)
    weight = np.exp(eta - np.exp(eta)) ** 2 / (mu * (1 - mu))
    covariance = np.linalg.inv(x.T @ (x * weight[:, None]))
    return beta, np.sqrt(np.diag(covariance))


def cloglog(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(-np.log1p(-p))


def estimate_effects(frame: pl.DataFrame, confidence: float = 0.95) -> tuple[dict[str, Effect], str]:
    """Hazard ratios (against not reached) per group of a cohort frame with columns outreach_group,
    outcome (bool), predicted_risk (may be null), score, age, sex. Also says what it adjusted for."""
    frame = frame.filter(pl.col("outreach_group").is_in(GROUPS))
    use_risk = frame.height > 0 and frame["predicted_risk"].null_count() == 0
    adjusted_for = "voorspeld risico, leeftijd en geslacht" if use_risk else "score, leeftijd en geslacht"
    present = [g for g in GROUPS if g != REFERENCE and frame.filter(pl.col("outreach_group") == g).height]
    if (
        frame.filter(pl.col("outreach_group") == REFERENCE).is_empty()
        or not present
        or int(frame["outcome"].sum()) < MIN_EVENTS_TO_FIT
    ):
        return {g: Effect(None, None, None) for g in GROUPS if g != REFERENCE}, adjusted_for
    risk = (
        cloglog(frame["predicted_risk"].to_numpy()) if use_risk else frame["score"].to_numpy().astype(float)
    )
    columns = [np.ones(frame.height)]
    columns += [(frame["outreach_group"] == g).to_numpy().astype(float) for g in present]
    covariates = [risk, frame["age"].to_numpy() / 10.0, (frame["sex"] == "V").to_numpy().astype(float)]
    columns += [c for c in covariates if np.ptp(c) > 0]  # a constant (e.g. every score 3) says nothing
    beta, se = fit_cloglog(frame["outcome"].cast(pl.Int8).to_numpy(), np.column_stack(columns))
    z = z_value(confidence)
    effects = {g: Effect(None, None, None) for g in GROUPS if g != REFERENCE}
    for i, g in enumerate(present, start=1):
        if np.isfinite(se[i]):
            effects[g] = Effect(
                float(np.exp(beta[i])), float(np.exp(beta[i] - z * se[i])), float(np.exp(beta[i] + z * se[i]))
            )
    return effects, adjusted_for


# --------------------------------------------------------------------------------------------
# From the store
# --------------------------------------------------------------------------------------------


def cohort_with_outcome(
    conn: duckdb.DuckDBPyConnection, profile: Profile, outcome: Outcome, quarter: str
) -> pl.DataFrame:
    """Exact, patient level: never leaves this module (only suppressed aggregates do)."""
    prepare_outreach_store(conn, profile)
    prepare_followups(conn)
    register_model_tables(conn, profile, outcome)
    run_sql(
        conn,
        "evaluation/cohort",
        {
            "quarter": quarter,
            "profile_name": profile.name,
            "profile_version": profile.version,
            "compared_groups": list(GROUPS),
            "window_days": outcome.window_days,
        },
    )
    run_sql(conn, "model/outcome", {"window_days": outcome.window_days})
    return conn.sql(
        "SELECT c.outreach_group, o.outcome, c.predicted_risk, c.score, c.age, c.sex "
        "FROM population AS p JOIN eval_cohort AS c USING (practice_id, patient_id) "
        "JOIN model_outcomes AS o USING (practice_id, quarter, patient_id) ORDER BY p.practice_id, p.patient_id"
    ).pl()


def evaluate_region(
    conn: duckdb.DuckDBPyConnection,
    profile: Profile,
    outcome: Outcome,
    quarter: str,
    capacity: Callable[[str], int | None] = lambda _: None,
) -> RegionEvaluation:
    cohort = cohort_with_outcome(conn, profile, outcome, quarter)
    funnel_exact = query(
        conn,
        "evaluation/region_funnel",
        {"quarter": quarter, "profile_name": profile.name, "profile_version": profile.version},
    ).pl()
    effects, adjusted_for = estimate_effects(cohort)
    rows = []
    for g in GROUPS:
        part = cohort.filter(pl.col("outreach_group") == g)
        n, events = (
            suppress_count(part.height),
            suppress_count(int(part["outcome"].sum()) if part.height else 0),
        )
        pct = lower = upper = None
        if n and events is not None:  # from the shown, rounded counts only
            shown_events = min(events, n)
            lo, hi = wilson_interval(shown_events, n)
            pct, lower, upper = 100 * shown_events / n, 100 * float(lo), 100 * float(hi)
        rows.append(
            {"group": g, "n": n, "events": events, "pct": pct, "pct_lower": lower, "pct_upper": upper}
        )
    groups = pl.DataFrame(
        rows,
        schema={
            "group": pl.String,
            "n": pl.Int64,
            "events": pl.Int64,
            "pct": pl.Float64,
            "pct_lower": pl.Float64,
            "pct_upper": pl.Float64,
        },
    )
    shown = {r["group"]: bool(r["n"]) and bool(r["events"]) for r in rows}
    hr: list[tuple[float | None, float | None, float | None]] = []
    for g in GROUPS:
        effect = effects.get(g)
        if g == REFERENCE:
            hr.append((1.0, None, None) if shown[g] else (None, None, None))
        elif effect is None or not (shown[g] and shown[REFERENCE]) or effect.hazard_ratio is None:
            hr.append((None, None, None))
        else:
            hr.append((effect.hazard_ratio, effect.lower, effect.upper))
    groups = groups.with_columns(
        pl.Series("hr", [h[0] for h in hr], dtype=pl.Float64),
        pl.Series("hr_lower", [h[1] for h in hr], dtype=pl.Float64),
        pl.Series("hr_upper", [h[2] for h in hr], dtype=pl.Float64),
    )
    workload = query(
        conn,
        "evaluation/workload",
        {"quarter": quarter, "profile_name": profile.name, "profile_version": profile.version},
    ).pl()
    return RegionEvaluation(
        quarter, groups, _shown_funnel(funnel_exact), adjusted_for, _shown_workload(workload, capacity)
    )


def _shown_workload(exact: pl.DataFrame, capacity: Callable[[str], int | None]) -> pl.DataFrame:
    """Per practice and quarter: capacity (config, not a count of people), the counts suppressed, and the
    share contacted within the working quarter from the shown counts only."""
    frame = exact.select(
        "practice_id", "quarter", *(suppress_count(exact[c].cast(pl.Int64)).alias(c) for c in WORKLOAD)
    )
    return frame.with_columns(
        pl.Series("capacity", [capacity(p) for p in frame["practice_id"]], dtype=pl.Int64),
        pl.when((pl.col("listed") > 0) & pl.col("contacted_in_quarter").is_not_null())  # hidden stays hidden
        .then(100 * pl.min_horizontal("contacted_in_quarter", "listed") / pl.col("listed"))
        .alias("pct_contacted_in_quarter"),
    )


def _shown_funnel(exact: pl.DataFrame) -> pl.DataFrame:
    """Per quarter and cumulative, every step suppressed; the median days only over >= 8 contacts."""
    total = exact.select(
        pl.lit("cumulatief").alias("quarter"),
        *(pl.col(s).sum() for s in FUNNEL_STEPS),
        pl.col("contacts").sum(),
        pl.lit(None, pl.Float64).alias("median_days"),
    )
    frame = pl.concat(
        [exact.with_columns(pl.col("median_days").cast(pl.Float64)), total], how="vertical_relaxed"
    )
    return frame.select(
        "quarter",
        *(suppress_count(frame[s].cast(pl.Int64)).alias(s) for s in FUNNEL_STEPS),
        pl.when(pl.col("contacts") >= 8).then(pl.col("median_days")).alias("median_days"),
    )


# --------------------------------------------------------------------------------------------
# Published: table outreach_evaluation, region/evaluation.csv and .html, a dashboard section
# --------------------------------------------------------------------------------------------


def store_evaluation(conn: duckdb.DuckDBPyConnection, profile: Profile, result: RegionEvaluation) -> None:
    run_sql(conn, "evaluation/results_schema")
    long = published_long(result).with_columns(
        pl.lit(result.quarter).alias("quarter"),
        pl.lit(profile.name).alias("profile_name"),
        pl.lit(profile.version).alias("profile_version"),
    )
    conn.register("evaluation_frame", long)
    conn.execute("BEGIN TRANSACTION")
    try:
        conn.execute(
            "DELETE FROM outreach_evaluation WHERE quarter = ? AND profile_name = ? AND profile_version = ?",
            [result.quarter, profile.name, profile.version],
        )
        conn.execute(
            "INSERT INTO outreach_evaluation BY NAME SELECT *, current_timestamp AS computed_at "
            "FROM evaluation_frame"
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    finally:
        conn.unregister("evaluation_frame")


def published_long(result: RegionEvaluation) -> pl.DataFrame:
    """part, key, measure, value, lower, upper: only what may be shown."""
    rows = []
    for r in result.groups.iter_rows(named=True):
        rows += [
            ("uitkomst", r["group"], "n", r["n"], None, None),
            ("uitkomst", r["group"], "events", r["events"], None, None),
            ("uitkomst", r["group"], "pct_events", r["pct"], r["pct_lower"], r["pct_upper"]),
            ("uitkomst", r["group"], "hazard_ratio", r["hr"], r["hr_lower"], r["hr_upper"]),
        ]
    for r in result.funnel.iter_rows(named=True):
        rows += [("trechter", r["quarter"], step, r[step], None, None) for step in FUNNEL_STEPS]
        rows.append(("trechter", r["quarter"], "median_days_to_contact", r["median_days"], None, None))
    for r in result.workload.iter_rows(named=True):
        key = f"{r['practice_id']}|{r['quarter']}"
        rows += [
            ("werklast", key, m, r[m], None, None)
            for m in ("capacity", *WORKLOAD, "pct_contacted_in_quarter")
        ]
    return pl.DataFrame(
        rows,
        schema={
            "part": pl.String,
            "key": pl.String,
            "measure": pl.String,
            "value": pl.Float64,
            "lower": pl.Float64,
            "upper": pl.Float64,
        },
        orient="row",
    )


def _fmt(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "niet getoond" if value is None else f"{value:.{digits}f}".replace(".", ",") + suffix


def section_html(result: RegionEvaluation, outcome: Outcome) -> str:
    """The evaluation section (Dutch), for region/evaluation.html and the dashboard."""

    def count(value: int | None) -> str:
        return "–" if value is None else str(value)

    groups = [
        {
            "key": r["group"],
            "label": GROUP_LABELS[r["group"]],
            "cells": [
                "niet getoond" if r["n"] is None else r["n"],
                "niet getoond" if r["events"] is None else r["events"],
                _fmt(r["pct"], 1, "%")
                + (f" ({_fmt(r['pct_lower'])}–{_fmt(r['pct_upper'])}%)" if r["pct"] is not None else ""),
                ("referentie" if r["group"] == REFERENCE and r["hr"] is not None else _fmt(r["hr"], 2))
                + (
                    f" ({_fmt(r['hr_lower'], 2)}–{_fmt(r['hr_upper'], 2)})"
                    if r["hr_lower"] is not None
                    else ""
                ),
            ],
        }
        for r in result.groups.iter_rows(named=True)
    ]
    funnel = [
        {
            "key": r["quarter"],
            "cells": [*(count(r[s]) for s in FUNNEL_STEPS), _fmt(r["median_days"], 0)],
        }
        for r in result.funnel.iter_rows(named=True)
    ]
    workload = [
        {
            "practice_id": r["practice_id"],
            "quarter": r["quarter"],
            "cells": [
                "geen grens" if r["capacity"] is None else r["capacity"],
                count(r["asked"]),
                count(r["listed"]),
                count(r["backlog"]),
                count(r["contacted_in_quarter"])
                + (
                    f" ({_fmt(r['pct_contacted_in_quarter'], 0, '%')})"
                    if r["pct_contacted_in_quarter"] is not None
                    else ""
                ),
            ],
        }
        for r in result.workload.iter_rows(named=True)
    ]
    return render(
        "omu.evaluation",
        "evaluation_section.html.j2",
        observational=OBSERVATIONAL,
        outcome_label=outcome.label,
        window=outcome.window_days,
        adjusted_for=result.adjusted_for,
        groups=groups,
        funnel_labels=[FUNNEL_LABELS[s] for s in FUNNEL_STEPS],
        funnel=funnel,
        workload=workload,
    ).rstrip("\n")


def write_evaluation_files(folder: Path, result: RegionEvaluation, outcome: Outcome) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    csv = folder / EVALUATION_CSV
    with atomic_path(csv) as temporary:
        published_long(result).write_csv(temporary, separator=";", include_bom=True)
    page = folder / EVALUATION_HTML
    write_text_atomically(
        page,
        render(
            "omu.evaluation",
            "evaluation.html.j2",
            quarter=result.quarter,
            section=safe(section_html(result, outcome)),  # rendered with autoescape above
            made_on=f"{dt.date.today():%d-%m-%Y}",
        ),
    )
    return {EVALUATION_CSV: csv, EVALUATION_HTML: page}


SECTION_START, SECTION_END = "<!-- omu:evaluatie -->", "<!-- /omu:evaluatie -->"


def add_to_dashboard(dashboard: Path, result: RegionEvaluation, outcome: Outcome) -> bool:
    """Put the evaluation section at the end of the dashboard page (replacing an earlier one)."""
    if not dashboard.is_file():
        return False
    text = dashboard.read_text(encoding="utf-8")
    if SECTION_START in text:
        text = text[: text.index(SECTION_START)] + text[text.index(SECTION_END) + len(SECTION_END) :]
    section = f"{SECTION_START}\n{section_html(result, outcome)}\n{SECTION_END}\n"
    write_text_atomically(dashboard, text.replace("</body>", section + "</body>", 1))
    return True


def write_region_evaluation(
    conn: duckdb.DuckDBPyConnection,
    folder: Path,
    profile: Profile,
    outcome: Outcome,
    quarter: str,
    capacity: Callable[[str], int | None] = lambda _: None,
) -> tuple[RegionEvaluation, dict[str, Path], bool]:
    """Evaluate, store in outreach_evaluation, write region/evaluation.csv/.html and the dashboard section."""
    result = evaluate_region(conn, profile, outcome, quarter, capacity)
    store_evaluation(conn, profile, result)
    files = write_evaluation_files(folder, result, outcome)
    return result, files, add_to_dashboard(folder / "dashboard.html", result, outcome)
