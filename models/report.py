"""`omu model report`: how well the saved risk model does on the held-out practices.

Reads <home>/models/<name>/<version>/ (model.joblib, model.json, evaluation.parquet: the held-out
practices' patients at their most recent training reference date, with outcome and predicted risk)
and writes <home>/out/model/report.html (plotly, self-contained) and report.json:
  * discrimination: AUC of the model, of the points score and (on generated data, with the truth
    folder) of the generator's true probabilities, each with a paired bootstrap 95% interval, and
    the differences model - score and truth - model with theirs; also within the patients at or
    over the threshold (the list the model orders);
  * Brier score, calibration plot (deciles), calibration intercept and slope;
  * calibration by sex and by wijk deprivation group (observed / expected with Wilson intervals);
  * permutation importance (drop in AUC when one feature is shuffled).

Every count it shows follows the regional rules (omu.dashboards.suppression.suppress_count): 1-7
hidden, others rounded to 5; every share, interval and observed/expected is computed from those
shown counts, or hidden with them; AUCs are rounded to 3 decimals (within a group shown only when
its outcome and non-outcome counts are both shown) and the ROC curves are drawn on a fixed grid,
so no figure pins an exact count. The report is also an access: it is logged first (omu.audit).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import polars as pl
from scipy.optimize import brentq
from scipy.special import expit
from scipy.stats import rankdata
from sklearn.inspection import permutation_importance
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_curve

from omu import audit, store
from omu.dashboards.stats import wilson_interval
from omu.dashboards.suppression import suppress_count
from omu.file_writing import write_text_atomically
from omu.home import OmuHome
from omu.models.outcome import load_outcome
from omu.models.risk import EVALUATION_FILE, ModelError, RiskModel, design_matrix, load_model, model_name
from omu.render import render, safe

BOOTSTRAP = 1000
SEED = 8
IMPORTANCE_REPEATS = 5
IMPORTANCE_ROWS = 20_000  # permutation importance on at most this many held-out rows
SEX_LABELS = {"M": "man", "V": "vrouw", "O": "onbekend/anders"}
AUC_DECIMALS = 3
ROC_GRID = np.linspace(0.0, 1.0, 51)  # false positive rates at which the ROC curves are drawn


def shown_counts(n: int, events: int) -> dict:
    """n and events as published (1-7 hidden, else rounded to 5), with the share and its Wilson 95%
    interval computed from the shown counts, or hidden with them. Events are hidden too when the
    patients without the outcome number 1-7 (n - events would give them away)."""
    n_shown = suppress_count(int(n))
    events_shown = suppress_count(int(events)) if suppress_count(int(n - events)) is not None else None
    if n_shown and events_shown is not None:
        events_shown = min(events_shown, n_shown)  # rounding may not show more events than patients
        low, high = wilson_interval(events_shown, n_shown)
        return {
            "n": n_shown,
            "events": events_shown,
            "observed": events_shown / n_shown,
            "observed_ci95": [float(low), float(high)],
        }
    return {"n": n_shown, "events": events_shown, "observed": None, "observed_ci95": [None, None]}


def _mean(values: pl.Series) -> float | None:
    """The rounded mean of a numeric series (None when it has no values)."""
    mean = values.mean()
    return _rounded(float(mean)) if isinstance(mean, int | float) else None


def _rounded(value: float | None) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), AUC_DECIMALS)


class ReportError(Exception):
    pass


@dataclass
class ReportPaths:
    html: Path
    json: Path
    report: dict


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann-Whitney, ties count half)."""
    positives = int(y.sum())
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(score)
    return float((ranks[y].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def bootstrap_aucs(
    y: np.ndarray, scorers: dict[str, np.ndarray], repeats: int = BOOTSTRAP, seed: int = SEED
) -> dict[str, np.ndarray]:
    """AUC of each scorer on the same resamples of patients (paired), `repeats` times."""
    rng = np.random.default_rng(seed)
    out = {name: np.empty(repeats) for name in scorers}
    for b in range(repeats):
        index = rng.integers(0, y.size, y.size)
        for name, score in scorers.items():
            out[name][b] = auc(y[index], score[index])
    return out


def _interval(values: np.ndarray) -> list[float | None]:
    values = values[~np.isnan(values)]
    return (
        [_rounded(np.quantile(values, 0.025)), _rounded(np.quantile(values, 0.975))]
        if values.size
        else [None, None]
    )


def discrimination(y: np.ndarray, scorers: dict[str, np.ndarray], repeats: int = BOOTSTRAP) -> dict:
    samples = bootstrap_aucs(y, scorers, repeats)
    exact = {name: auc(y, score) for name, score in scorers.items()}
    result = {name: {"auc": _rounded(exact[name]), "ci95": _interval(samples[name])} for name in scorers}
    for first, second in (("model", "score"), ("truth", "model")):
        if first in scorers and second in scorers:
            result[f"{first}_minus_{second}"] = {
                "delta": _rounded(exact[first] - exact[second]),
                "ci95": _interval(samples[first] - samples[second]),
            }
    shown = shown_counts(y.size, int(y.sum()))
    result["examples"], result["events"] = shown["n"], shown["events"]
    return result


def calibration_line(y: np.ndarray, risk: np.ndarray) -> dict:
    """Calibration-in-the-large (the shift a of the log-odds, slope fixed at 1, that makes the mean
    predicted equal the observed share; ideal 0) and the calibration slope (logistic regression of
    the outcome on logit(risk); ideal 1, below 1 means too extreme predictions)."""
    clipped = np.clip(risk, 1e-6, 1 - 1e-6)
    logit = np.log(clipped / (1 - clipped))
    observed = float(np.mean(y))
    intercept = (
        float(brentq(lambda a: float(np.mean(expit(logit + a))) - observed, -10, 10))
        if 0 < observed < 1
        else float("nan")
    )
    fitted = LogisticRegression(C=np.inf).fit(logit.reshape(-1, 1), y)
    return {"intercept": intercept, "slope": float(fitted.coef_[0, 0])}


def calibration_bins(y: np.ndarray, risk: np.ndarray, bins: int = 10) -> list[dict]:
    """Groups of equal size by predicted risk: mean predicted, observed share and its Wilson 95%
    interval (counts as published, the share from them: `shown_counts`)."""
    order = np.argsort(risk, kind="stable")
    rows = []
    for part in np.array_split(order, min(bins, max(1, y.size))):
        if part.size == 0:
            continue
        shown = shown_counts(part.size, int(y[part].sum()))
        rows.append({**shown, "mean_predicted": float(risk[part].mean()) if shown["n"] else None})
    return rows


def calibration_by(frame: pl.DataFrame, group: str, labels: dict[str, str] | None = None) -> list[dict]:
    """Per group: observed share (Wilson 95%), mean predicted, observed / expected and the AUC, from
    the counts as published (`shown_counts`); hidden with them."""
    rows = []
    for (value,), part in frame.group_by([group], maintain_order=True):
        y = part["outcome"].to_numpy()
        risk = part["predicted_risk"].to_numpy()
        events = int(y.sum())
        shown = shown_counts(y.size, events)
        # a hidden group's mean prediction is hidden too: it is about 1-7 people
        mean_predicted = float(risk.mean()) if shown["n"] else None
        expected = mean_predicted * shown["n"] if shown["n"] else 0.0
        rows.append(
            {
                "group": str(value) if value is not None else "onbekend",
                "label": (labels or {}).get(str(value), str(value) if value is not None else "onbekend"),
                **shown,
                "mean_predicted": mean_predicted,
                "observed_over_expected": shown["events"] / expected
                if expected and shown["events"] is not None
                else None,
                "auc": _rounded(auc(y, risk)) if shown["events"] and shown["events"] < shown["n"] else None,
            }
        )
    order = {"M": 0, "V": 1, "O": 2, "laag": 0, "midden": 1, "hoog": 2, "onbekend": 9}
    return sorted(rows, key=lambda r: (order.get(r["group"], 5), r["group"]))


def importance(model: RiskModel, frame: pl.DataFrame, seed: int = SEED) -> list[dict]:
    sample = frame if frame.height <= IMPORTANCE_ROWS else frame.sample(IMPORTANCE_ROWS, seed=seed)
    result = permutation_importance(
        model.estimator,
        design_matrix(sample, model.features),
        sample["outcome"].to_numpy(),
        scoring="roc_auc",
        n_repeats=IMPORTANCE_REPEATS,
        random_state=seed,
    )
    rows = [
        {"feature": name, "auc_drop": float(mean), "std": float(std)}
        for name, mean, std in zip(
            model.features, result.importances_mean, result.importances_std, strict=True
        )
    ]
    return sorted(rows, key=lambda r: -r["auc_drop"])


def read_truth(truth_dir: Path, practices: list[str]) -> pl.DataFrame:
    files = [truth_dir / f"{p}.parquet" for p in practices]
    missing = [f.name for f in files if not f.is_file()]
    if missing:
        raise ReportError(f"the truth folder {truth_dir} lacks {', '.join(missing)} (the held-out practices)")
    return pl.concat(
        [
            pl.read_parquet(
                f, columns=["practice_id", "patient_id", "quarter", "outcome_probability", "outcome_12m"]
            )
            for f in files
        ]
    )


def build_report(
    model: RiskModel, evaluation: pl.DataFrame, truth_dir: Path | None = None, repeats: int = BOOTSTRAP
) -> dict:
    frame = evaluation
    truth_check = None
    if truth_dir is not None:
        truth = read_truth(Path(truth_dir), sorted(frame["practice_id"].unique().to_list()))
        frame = frame.join(truth, on=["practice_id", "patient_id", "quarter"], how="left")
        joined = frame.filter(pl.col("outcome_probability").is_not_null())
        truth_check = {
            "truth_dir": str(truth_dir),
            "examples_with_truth": suppress_count(joined.height),
            "examples_without_truth": suppress_count(frame.height - joined.height),
            "outcome_agreement": (
                _mean((joined["outcome"] == joined["outcome_12m"]).cast(pl.Float64))
                if joined.height
                else None
            ),
        }
        frame = joined
    y = frame["outcome"].to_numpy().astype(bool)
    risk = frame["predicted_risk"].to_numpy()
    scorers = {"model": risk, "score": frame["score"].to_numpy().astype(float)}
    if truth_check:
        scorers["truth"] = frame["outcome_probability"].to_numpy()
    over = frame["over_threshold"].to_numpy().astype(bool)
    over_shown = shown_counts(int(over.sum()), int(y[over].sum()))
    over_threshold = (
        discrimination(y[over], {k: v[over] for k, v in scorers.items()}, repeats)
        if over_shown["events"] and over_shown["events"] < over_shown["n"]
        else {"examples": over_shown["n"], "events": over_shown["events"]}
    )
    held = shown_counts(y.size, int(y.sum()))
    prevalence = held["observed"]
    brier = {
        "model": float(brier_score_loss(y, risk)),
        "prevalence_only": prevalence * (1 - prevalence) if prevalence is not None else None,
    }
    if truth_check:
        brier["truth"] = float(brier_score_loss(y, scorers["truth"]))
    with_groups = frame.with_columns(pl.col("deprivation_group").fill_null("onbekend"))
    meta = model.meta
    training = shown_counts(meta["training"]["examples"], meta["training"]["events"])
    report = {
        "model": {
            k: meta[k]
            for k in (
                "name",
                "version",
                "trained_at",
                "estimator",
                "profile",
                "outcome",
                "training_window",
                "practices",
                "sha256",
            )
            if k in meta
        }
        | {"training": {"examples": training["n"], "events": training["events"]}},
        "model_dir": str(model.path),
        "held_out": {
            "practices": meta["practices"]["held_out"],
            "examples": held["n"],
            "events": held["events"],
            "prevalence": prevalence,
            "reference_dates": sorted({d.isoformat() for d in frame["reference_date"].to_list()}),
        },
        "discrimination": discrimination(y, scorers, repeats),
        "over_threshold": over_threshold,
        "brier": brier,
        "calibration": {
            "bins": calibration_bins(y, risk),
            **{k: _rounded(v) for k, v in calibration_line(y, risk).items()},
            "mean_predicted": float(risk.mean()),
            "observed": prevalence,
        },
        "calibration_truth": calibration_bins(y, scorers["truth"]) if truth_check else None,
        "calibration_by_sex": calibration_by(frame, "sex", SEX_LABELS),
        "calibration_by_deprivation": calibration_by(with_groups, "deprivation_group"),
        "permutation_importance": importance(model, frame),
        "truth_check": truth_check,
        "bootstrap_repeats": repeats,
    }
    report["summary"] = summary_text(report)
    return report


def _fmt(entry: dict) -> str:
    low, high = entry["ci95"]
    return f"{entry['auc']:.3f} (95% CI {low:.3f}-{high:.3f})"


def count_text(value: int | None) -> str:
    """A published count: rounded to 5, or 'hidden' (1-7, or it would give one away)."""
    return "hidden" if value is None else str(value)


def _number(value: float | None, spec: str) -> str:
    return "hidden" if value is None else format(value, spec)


def summary_text(report: dict) -> str:
    d = report["discrimination"]
    held = report["held_out"]
    text = (
        f"On about {count_text(held['examples'])} patients of {len(held['practices'])} held-out practice(s) "
        f"({count_text(held['events'])} with the outcome, {_number(held['prevalence'], '.1%')}; counts rounded "
        f"to 5), the model's AUC is {_fmt(d['model'])}; the points score's is {_fmt(d['score'])}. "
    )
    delta = d["model_minus_score"]
    verdict = (
        "better than"
        if delta["ci95"][0] > 0
        else ("worse than" if delta["ci95"][1] < 0 else "not clearly different from")
    )
    text += (
        f"The model ranks {verdict} the points score (difference {delta['delta']:+.3f}, "
        f"95% CI {delta['ci95'][0]:+.3f} to {delta['ci95'][1]:+.3f}). "
    )
    if "truth" in d:
        gap = d["truth_minus_model"]
        text += (
            f"The generator's true probabilities, the best any model can do, reach {_fmt(d['truth'])}: "
            f"the model is {gap['delta']:.3f} below them (95% CI {gap['ci95'][0]:.3f} to {gap['ci95'][1]:.3f}). "
        )
    calibration = report["calibration"]
    text += (
        f"Brier score {report['brier']['model']:.4f} (prevalence only: "
        f"{_number(report['brier']['prevalence_only'], '.4f')}); calibration-in-the-large "
        f"{_number(calibration['intercept'], '+.2f')} (ideal 0), slope {_number(calibration['slope'], '.2f')} "
        "(ideal 1)."
    )
    return text


# ---------------------------------------------------------------------------------------------- figures


def _figures(report: dict, model: RiskModel, evaluation: pl.DataFrame) -> list[tuple[str, go.Figure]]:
    figures = []
    d = report["discrimination"]
    names = {"score": "points score", "model": "risk model", "truth": "true probability (generator)"}
    present = [k for k in ("score", "model", "truth") if k in d]
    bars = go.Figure(
        go.Bar(
            x=[names[k] for k in present],
            y=[d[k]["auc"] for k in present],
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [d[k]["ci95"][1] - d[k]["auc"] for k in present],
                "arrayminus": [d[k]["auc"] - d[k]["ci95"][0] for k in present],
            },
            text=[f"{d[k]['auc']:.3f}" for k in present],
            textposition="outside",
        )
    )
    bars.update_layout(
        title="AUC on the held-out practices (bootstrap 95% interval)",
        yaxis_title="AUC",
        yaxis_range=[0.5, 1.0],
        height=420,
    )
    figures.append(("auc", bars))

    y = evaluation["outcome"].to_numpy().astype(bool)
    roc = go.Figure()
    columns = {"model": "predicted_risk", "score": "score", "truth": "outcome_probability"}
    for key in present:
        fpr, tpr, _ = roc_curve(y, evaluation[columns[key]].to_numpy().astype(float))
        # on a fixed grid, 2 decimals: the curve's own steps (multiples of 1/events) would give the counts
        grid_tpr = np.round(np.interp(ROC_GRID, fpr, tpr), 2)
        roc.add_trace(
            go.Scatter(x=ROC_GRID, y=grid_tpr, mode="lines", name=f"{names[key]} ({d[key]['auc']:.3f})")
        )
    roc.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dot", "color": "grey"},
            name="chance",
            showlegend=False,
        )
    )
    roc.update_layout(
        title="ROC curves", xaxis_title="false positive rate", yaxis_title="true positive rate", height=480
    )
    figures.append(("roc", roc))

    calibration = go.Figure()
    top = 0.0
    for label, bins in (
        ("risk model", report["calibration"]["bins"]),
        ("true probability", report["calibration_truth"]),
    ):
        bins = [b for b in bins or [] if b["observed"] is not None]  # hidden with their counts
        if not bins:
            continue
        x = [b["mean_predicted"] for b in bins]
        obs = [b["observed"] for b in bins]
        top = max(top, *x, *[b["observed_ci95"][1] for b in bins])
        calibration.add_trace(
            go.Scatter(
                x=x,
                y=obs,
                mode="lines+markers",
                name=label,
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [b["observed_ci95"][1] - b["observed"] for b in bins],
                    "arrayminus": [b["observed"] - b["observed_ci95"][0] for b in bins],
                },
            )
        )
    calibration.add_trace(
        go.Scatter(
            x=[0, top],
            y=[0, top],
            mode="lines",
            line={"dash": "dot", "color": "grey"},
            name="perfect calibration",
        )
    )
    calibration.update_layout(
        title="Calibration: observed vs predicted, per decile of predicted risk",
        xaxis_title="mean predicted risk",
        yaxis_title="observed share with the outcome",
        height=480,
    )
    figures.append(("calibration", calibration))

    for key, title in (
        ("calibration_by_sex", "sex"),
        ("calibration_by_deprivation", "wijk deprivation group"),
    ):
        rows = report[key]
        shown = [r for r in rows if r["observed"] is not None]  # hidden with their counts
        figure = go.Figure()
        figure.add_trace(
            go.Bar(
                x=[r["label"] for r in rows],
                y=[r["mean_predicted"] for r in rows],
                name="mean predicted risk",
                opacity=0.6,
            )
        )
        figure.add_trace(
            go.Scatter(
                x=[r["label"] for r in shown],
                y=[r["observed"] for r in shown],
                mode="markers",
                name="observed share",
                marker={"size": 11, "color": "black"},
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [r["observed_ci95"][1] - r["observed"] for r in shown],
                    "arrayminus": [r["observed"] - r["observed_ci95"][0] for r in shown],
                },
            )
        )
        figure.update_layout(
            title=f"Calibration by {title} (observed with Wilson 95% interval)",
            yaxis_title="share with the outcome",
            height=420,
        )
        figures.append((key, figure))

    rows = report["permutation_importance"][::-1]
    importance_figure = go.Figure(
        go.Bar(
            x=[r["auc_drop"] for r in rows],
            y=[r["feature"] for r in rows],
            orientation="h",
            error_x={"type": "data", "array": [r["std"] for r in rows]},
        )
    )
    importance_figure.update_layout(
        title="Permutation importance: drop in AUC when the feature is shuffled",
        xaxis_title="AUC drop",
        height=max(380, 26 * len(rows)),
    )
    figures.append(("importance", importance_figure))
    return figures


def table_cell(value: object) -> str:
    """A value in a report table: floats to 3 decimals, an interval as low-high, None empty."""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list):
        return (
            ""
            if all(v is None for v in value)
            else "-".join(f"{v:.3f}" if isinstance(v, float) else str(v) for v in value)
        )
    return "" if value is None else str(value)


GROUP_COLUMNS = [
    ("label", "group"),
    ("n", "patients"),
    ("events", "with outcome"),
    ("observed", "observed"),
    ("observed_ci95", "95% CI"),
    ("mean_predicted", "mean predicted"),
    ("observed_over_expected", "observed / expected"),
    ("auc", "AUC"),
]
AUC_COLUMNS = [("what", ""), ("auc", "AUC"), ("ci95", "bootstrap 95% CI")]


def _table(rows: list[dict], columns: list[tuple[str, str]]) -> dict:
    """A report table for the template: its head and its cells as text."""
    return {
        "head": [label for _, label in columns],
        "rows": [[table_cell(row.get(key)) for key, _ in columns] for row in rows],
    }


def render_html(report: dict, figures: list[tuple[str, go.Figure]]) -> str:
    m = report["model"]
    d = report["discrimination"]
    auc_rows = [
        {"what": name, "auc": d[key]["auc"], "ci95": d[key]["ci95"]}
        for key, name in (
            ("score", "points score"),
            ("model", "risk model"),
            ("truth", "true probability (generator)"),
        )
        if key in d
    ]
    auc_rows += [
        {
            "what": f"difference {key.replace('_minus_', ' - ')}",
            "auc": d[key]["delta"],
            "ci95": d[key]["ci95"],
        }
        for key in ("model_minus_score", "truth_minus_model")
        if key in d
    ]
    over = report["over_threshold"]
    over_rows = [
        {"what": key, "auc": over[key]["auc"], "ci95": over[key]["ci95"]}
        for key in ("score", "model", "truth")
        if key in over
    ]
    calibration = report["calibration"]
    truth = report["truth_check"]
    return render(
        "omu.models",
        "report.html.j2",
        m=m,
        report=report,
        training_examples=count_text(m["training"]["examples"]),
        training_events=count_text(m["training"]["events"]),
        auc_table=_table(auc_rows, AUC_COLUMNS),
        over_examples=count_text(over["examples"]),
        over_events=count_text(over["events"]),
        over_table=_table(over_rows, AUC_COLUMNS) if over_rows else None,
        brier_table=_table(
            [{"what": k.replace("_", " "), "brier": v} for k, v in report["brier"].items()],
            [("what", "Brier score"), ("brier", "")],
        ),
        calibration_text=f"Calibration-in-the-large {_number(calibration['intercept'], '+.3f')}, slope "
        f"{_number(calibration['slope'], '.3f')} (ideal 0 and 1); mean predicted "
        f"{calibration['mean_predicted']:.3f}, observed {_number(calibration['observed'], '.3f')}.",
        by_sex=_table(report["calibration_by_sex"], GROUP_COLUMNS),
        by_deprivation=_table(report["calibration_by_deprivation"], GROUP_COLUMNS),
        truth_text=(
            f"Truth: {truth['truth_dir']}; {count_text(truth['examples_with_truth'])} held-out patients "
            f"matched, {count_text(truth['examples_without_truth'])} not; the outcome read from the "
            f"deliveries agrees with the generator's in {_number(truth['outcome_agreement'], '.1%')}."
            if truth
            else ""
        ),
        # plotly's own fragments (its JSON escapes markup), inlined as they are
        figures=[
            safe(figure.to_html(full_html=False, include_plotlyjs=index == 0, default_width="100%"))
            for index, (_, figure) in enumerate(figures)
        ],
    )


def write_report(
    home: OmuHome,
    *,
    truth_dir: Path | None = None,
    version: str | None = None,
    name: str | None = None,
    repeats: int = BOOTSTRAP,
) -> ReportPaths:
    name = name or model_name(load_outcome())
    try:
        model = load_model(home, name, version)
    except ModelError as error:
        raise ReportError(str(error)) from error
    if model is None:
        raise ReportError(
            f"no saved model {name}{' ' + version if version else ''} in {home.models}: "
            "run `omu run` first (the model step trains it when there is enough history)"
        )
    assert model.path is not None  # a loaded model knows its folder
    evaluation = pl.read_parquet(model.path / EVALUATION_FILE)
    report = build_report(model, evaluation, truth_dir, repeats)
    with store.connect(home.database) as conn:  # no access log entry, no report
        try:
            audit.record(
                conn,
                "model_report",
                patients=evaluation.select("practice_id", "patient_id").n_unique(),
                detail=f"{model.name} {model.version}: held-out practices "
                + ", ".join(report["held_out"]["practices"]),
            )
        except audit.AuditError as error:
            raise ReportError(str(error)) from None
    if truth_dir is not None:
        evaluation = evaluation.join(
            read_truth(Path(truth_dir), report["held_out"]["practices"]),
            on=["practice_id", "patient_id", "quarter"],
            how="inner",
        )
    folder = home.out / "model"
    folder.mkdir(parents=True, exist_ok=True)
    html_path, json_path = folder / "report.html", folder / "report.json"
    write_text_atomically(html_path, render_html(report, _figures(report, model, evaluation)))
    write_text_atomically(json_path, json.dumps(report, indent=2, ensure_ascii=False))
    return ReportPaths(html_path, json_path, report)
