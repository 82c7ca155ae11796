"""The dashboard's figures (plotly), from the suppressed indicators; nothing here sees a patient.

Colours are Okabe-Ito (colour-blind safe) and never carry meaning alone: marker shapes, patterns,
line styles and text labels say the same. Each figure becomes an HTML fragment (:func:`figure_html`);
plotly.js is inlined once, in the first.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from omu.dashboards.indicators import OTHER_WIJK, REFERRAL_LABELS
from omu.dashboards.stats import funnel_limits
from omu.dashboards.texts import _missing, _rows, funnel_class, nl_count, nl_interval, nl_pct
from omu.outreach.lists import REFERRAL_TARGETS
from omu.screening.profile import Profile

# Okabe M, Ito K (2008) "Color Universal Design": distinguishable with every common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
GREY = "#7a7a7a"
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', Arial, sans-serif"
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _layout(fig: go.Figure, *, height: int, title: str | None = None, legend: bool = True) -> go.Figure:
    fig.update_layout(
        height=height,
        margin={"l": 10, "r": 20, "t": 40 if title else 16, "b": 10},
        title={"text": title, "x": 0, "font": {"size": 15}} if title else None,
        font={"family": FONT, "size": 13, "color": "#1b1b1b"},
        separators=",.",
        plot_bgcolor="white",
        paper_bgcolor="white",
        showlegend=legend,
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0, "xanchor": "left"},
        hoverlabel={"font": {"family": FONT}},
    )
    fig.update_xaxes(showline=True, linecolor="#444", gridcolor="#e6e6e6", zeroline=False, automargin=True)
    fig.update_yaxes(showline=True, linecolor="#444", gridcolor="#e6e6e6", zeroline=False, automargin=True)
    return fig


def wrap(text: str, width: int) -> str:
    """Break a label into lines of about ``width`` characters for an axis (plotly's <br>)."""
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return "<br>".join([*lines, line])


def _errors(rows: list[dict], key: str) -> tuple[list, list]:
    plus = [r[f"{key}_upper"] - r[key] if not _missing(r[key]) else None for r in rows]
    minus = [r[key] - r[f"{key}_lower"] if not _missing(r[key]) else None for r in rows]
    return plus, minus


def _not_shown_trace(names: list[str], texts: list[str], x: float = 0.0) -> go.Scatter:
    return go.Scatter(
        x=[x] * len(names),
        y=names,
        mode="text",
        text=texts,
        textposition="middle right",
        textfont={"color": GREY, "size": 12},
        hoverinfo="skip",
        showlegend=False,
        cliponaxis=False,
    )


def why_missing(row: dict) -> str:
    """Why a wijk's percentage is not on the chart."""
    return "geen ingeschrevenen" if row.get("registered") == 0 else "niet getoond (kleine aantallen)"


def axis_cap(points: list[float], uppers: list[float], floor: float = 5.0) -> float:
    """Upper end of a % axis: everything, unless a few very wide intervals (tiny areas) would squash
    the rest; then about three times the largest estimate (the intervals beyond are cut off)."""
    points = [p for p in points if not _missing(p)]
    uppers = [u for u in uppers if not _missing(u)]
    if not uppers:
        return floor
    natural = max(uppers)
    return min(natural, max(floor, 3.0 * max(points, default=0.0))) * 1.05


def fig_wijken(current: pl.DataFrame, region: dict) -> go.Figure:
    """% at or over the threshold per wijk with Wilson 95% intervals, highest at the top."""
    wijken = current.filter(pl.col("level") == "wijk")
    shown = _rows(wijken.filter(pl.col("pct_over").is_not_null()).sort("pct_over"))
    missing = _rows(wijken.filter(pl.col("pct_over").is_null()))
    hidden = [r["area_name"] for r in missing]
    order = hidden + [r["area_name"] for r in shown]
    fig = go.Figure()
    plus, minus = _errors(shown, "pct_over")
    fig.add_trace(
        go.Scatter(
            x=[r["pct_over"] for r in shown],
            y=[r["area_name"] for r in shown],
            mode="markers+text",
            name="wijk: % op/boven drempel met 95%-interval",
            marker={"symbol": "circle", "size": 11, "color": OKABE_ITO["blue"]},
            error_x={
                "type": "data",
                "array": plus,
                "arrayminus": minus,
                "color": OKABE_ITO["blue"],
                "thickness": 2,
                "width": 5,
            },
            text=[nl_pct(r["pct_over"]) for r in shown],
            textposition="top right",
            textfont={"size": 11},
            cliponaxis=False,
            customdata=[
                [
                    nl_pct(r["pct_over"]),
                    nl_interval(r["pct_over_lower"], r["pct_over_upper"]),
                    nl_count(r["registered"]),
                    nl_count(r["over_threshold"]),
                ]
                for r in shown
            ],
            hovertemplate="<b>%{y}</b><br>op/boven drempel: %{customdata[0]} (95%-BI %{customdata[1]})"
            "<br>ingeschreven: %{customdata[2]}, op/boven drempel: %{customdata[3]}<extra></extra>",
        )
    )
    if hidden:
        fig.add_trace(_not_shown_trace(hidden, [why_missing(r) for r in missing]))
    if not _missing(region.get("pct_over")):
        fig.add_vline(x=region["pct_over"], line={"color": OKABE_ITO["black"], "dash": "dash", "width": 1.5})
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"color": "black", "dash": "dash"},
                name=f"regio: {nl_pct(region['pct_over'])}",
            )
        )
    cap = axis_cap(
        [r["pct_over"] for r in shown] + [region.get("pct_over")], [r["pct_over_upper"] for r in shown]
    )
    fig.update_yaxes(categoryorder="array", categoryarray=order, title=None)
    fig.update_xaxes(
        title=_cut_title("% van de ingeschrevenen op of boven de drempel", shown, "pct_over", cap),
        range=[0, cap],
        ticksuffix="%",
    )
    return _layout(fig, height=130 + 34 * max(len(order), 3))


def _cut_title(title: str, rows: list[dict], key: str, cap: float) -> str:
    if any(not _missing(r.get(f"{key}_upper")) and r[f"{key}_upper"] > cap for r in rows):
        return f"{title}<br><sup>intervallen die verder lopen zijn afgekapt (zeer kleine aantallen; zie de tabel)</sup>"
    return title


def fig_standardised(current: pl.DataFrame, region: dict) -> go.Figure:
    """Crude and ESP2013 age-standardised % per wijk side by side, sorted by the standardised %."""
    wijken = current.filter(pl.col("level") == "wijk")
    with_dsr = _rows(wijken.filter(pl.col("dsr_over").is_not_null()).sort("dsr_over"))
    without = _rows(wijken.filter(pl.col("dsr_over").is_null()).sort("area_code", descending=True))
    order = [r["area_name"] for r in without + with_dsr]
    pos = {name: i for i, name in enumerate(order)}
    fig = go.Figure()
    crude = [r for r in without + with_dsr if not _missing(r["pct_over"])]
    plus, minus = _errors(crude, "pct_over")
    fig.add_trace(
        go.Scatter(
            x=[r["pct_over"] for r in crude],
            y=[pos[r["area_name"]] - 0.18 for r in crude],
            mode="markers",
            name="ruw percentage (95%-BI)",
            marker={"symbol": "circle-open", "size": 10, "color": OKABE_ITO["orange"], "line": {"width": 2}},
            error_x={
                "type": "data",
                "array": plus,
                "arrayminus": minus,
                "color": OKABE_ITO["orange"],
                "thickness": 1.5,
                "width": 4,
            },
            customdata=[
                [r["area_name"], nl_pct(r["pct_over"]), nl_interval(r["pct_over_lower"], r["pct_over_upper"])]
                for r in crude
            ],
            hovertemplate="<b>%{customdata[0]}</b><br>ruw: %{customdata[1]} (95%-BI %{customdata[2]})<extra></extra>",
        )
    )
    plus, minus = _errors(with_dsr, "dsr_over")
    fig.add_trace(
        go.Scatter(
            x=[r["dsr_over"] for r in with_dsr],
            y=[pos[r["area_name"]] + 0.18 for r in with_dsr],
            mode="markers+text",
            name="leeftijdsgestandaardiseerd, ESP2013 (95%-BI)",
            marker={"symbol": "diamond", "size": 12, "color": OKABE_ITO["blue"]},
            error_x={
                "type": "data",
                "array": plus,
                "arrayminus": minus,
                "color": OKABE_ITO["blue"],
                "thickness": 2.5,
                "width": 5,
            },
            text=[nl_pct(r["dsr_over"]) for r in with_dsr],
            textposition="top center",
            textfont={"size": 11},
            customdata=[
                [r["area_name"], nl_pct(r["dsr_over"]), nl_interval(r["dsr_over_lower"], r["dsr_over_upper"])]
                for r in with_dsr
            ],
            hovertemplate="<b>%{customdata[0]}</b><br>gestandaardiseerd: %{customdata[1]} "
            "(95%-BI %{customdata[2]})<extra></extra>",
        )
    )
    if without:
        fig.add_trace(
            go.Scatter(
                x=[0] * len(without),
                y=[pos[r["area_name"]] + 0.18 for r in without],
                mode="text",
                text=[
                    "geen ingeschrevenen"
                    if r["registered"] == 0
                    else "gestandaardiseerd: niet getoond (minder dan 10 boven de drempel, of afgeschermd)"
                    for r in without
                ],
                textposition="middle right",
                cliponaxis=False,
                textfont={"color": GREY, "size": 11},
                hoverinfo="skip",
                showlegend=False,
            )
        )
    if not _missing(region.get("dsr_over")):
        fig.add_vline(x=region["dsr_over"], line={"color": "black", "dash": "dash", "width": 1.5})
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"color": "black", "dash": "dash"},
                name=f"regio gestandaardiseerd: {nl_pct(region['dsr_over'])}",
            )
        )
    everything = crude + with_dsr
    cap = axis_cap(
        [r["pct_over"] for r in crude] + [r["dsr_over"] for r in with_dsr],
        [r["pct_over_upper"] for r in crude] + [r["dsr_over_upper"] for r in with_dsr],
    )
    cut = any(r["pct_over_upper"] > cap for r in crude) or any(r["dsr_over_upper"] > cap for r in with_dsr)
    title = "% op of boven de drempel" + (
        "<br><sup>intervallen die verder lopen zijn afgekapt (zeer kleine aantallen; zie de tabel)</sup>"
        if cut
        else ""
    )
    fig.update_yaxes(tickvals=list(range(len(order))), ticktext=order, range=[-0.6, len(order) - 0.4])
    fig.update_xaxes(title=title, range=[0, cap] if everything else [0, 5], ticksuffix="%")
    return _layout(fig, height=140 + 40 * max(len(order), 3))


FUNNEL_STYLE = {
    "binnen": ("binnen de 95%-grenzen", "circle", OKABE_ITO["black"], 9),
    "tussen": ("buiten 95%, binnen 99,8%", "square", OKABE_ITO["orange"], 10),
    "boven": ("boven de 99,8%-grens", "triangle-up", OKABE_ITO["vermillion"], 14),
    "onder": ("onder de 99,8%-grens", "triangle-down", OKABE_ITO["blue"], 14),
}


def fig_funnel(current: pl.DataFrame, region: dict) -> go.Figure:
    """Funnel plot of the practices: % over the threshold against practice size, with the exact
    binomial 95% and 99.8% limits around the region's percentage."""
    practices = _rows(
        current.filter(
            (pl.col("level") == "praktijk")
            & pl.col("pct_over").is_not_null()
            & pl.col("registered").is_not_null()
        )
    )
    fig = go.Figure()
    target = region.get("pct_over")
    if not practices or not isinstance(target, int | float) or _missing(target) or not 0 < target < 100:
        fig.add_annotation(
            text="Geen praktijken te tonen (kleine aantallen afgeschermd).",
            showarrow=False,
            x=0.5,
            y=0.5,
            xref="paper",
            yref="paper",
            font={"size": 14, "color": GREY},
        )
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        return _layout(fig, height=240, legend=False)
    sizes = [r["registered"] for r in practices]
    grid = np.unique(np.linspace(max(10, 0.6 * min(sizes)), 1.12 * max(sizes), 240).round().astype(int))
    p0 = target / 100.0
    for confidence, label, dash, width in (
        (0.998, "99,8%-grenzen", "dot", 2),
        (0.95, "95%-grenzen", "dash", 1.5),
    ):
        lower, upper = funnel_limits(p0, grid, confidence)
        for i, limit in enumerate((lower, upper)):
            fig.add_trace(
                go.Scatter(
                    x=grid,
                    y=limit * 100,
                    mode="lines",
                    name=label,
                    legendgroup=label,
                    showlegend=i == 0,
                    line={"color": "#333" if confidence > 0.99 else GREY, "dash": dash, "width": width},
                    hoverinfo="skip",
                )
            )
    fig.add_trace(
        go.Scatter(
            x=[grid[0], grid[-1]],
            y=[target, target],
            mode="lines",
            name=f"regiogemiddelde {nl_pct(target)}",
            line={"color": "black", "width": 1.5},
            hoverinfo="skip",
        )
    )
    for cls, (label, symbol, colour, size) in FUNNEL_STYLE.items():
        rows = [r for r in practices if funnel_class(r) == cls]
        if not rows:
            continue
        labelled = cls in ("boven", "onder")
        fig.add_trace(
            go.Scatter(
                x=[r["registered"] for r in rows],
                y=[r["pct_over"] for r in rows],
                mode="markers+text" if labelled else "markers",
                name=f"praktijk {label}",
                marker={
                    "symbol": symbol,
                    "size": size,
                    "color": colour,
                    "line": {"color": "white", "width": 1},
                },
                text=[r["area_code"] for r in rows] if labelled else None,
                textposition="middle right",
                textfont={"size": 12, "color": colour},
                customdata=[
                    [
                        r["area_code"],
                        nl_count(r["registered"]),
                        nl_pct(r["pct_over"]),
                        nl_interval(r["pct_over_lower"], r["pct_over_upper"]),
                        label,
                    ]
                    for r in rows
                ],
                hovertemplate="<b>%{customdata[0]}</b><br>ingeschreven (afgerond): %{customdata[1]}"
                "<br>op/boven drempel: %{customdata[2]} (95%-BI %{customdata[3]})"
                "<br>%{customdata[4]}<extra></extra>",
            )
        )
    fig.update_xaxes(title="ingeschreven patiënten (afgerond op 5)", separatethousands=True)
    fig.update_yaxes(title="% op of boven de drempel", ticksuffix="%", rangemode="tozero")
    return _layout(fig, height=460)


def fig_trends(wide: pl.DataFrame, quarters: list[str]) -> go.Figure:
    """Small multiples: % over the threshold per quarter for the region and each wijk."""
    areas = (
        wide.filter(pl.col("level").is_in(["regio", "wijk"]))
        .select("level", "area_code", "area_name")
        .unique(maintain_order=True)
    )
    region_code = areas.filter(pl.col("level") == "regio").get_column("area_code").to_list()
    wijk_codes = sorted(c for c in areas.filter(pl.col("level") == "wijk").get_column("area_code").to_list())
    wijk_codes = [c for c in wijk_codes if c != OTHER_WIJK] + [c for c in wijk_codes if c == OTHER_WIJK]
    codes = region_code + wijk_codes
    names = dict(zip(areas.get_column("area_code"), areas.get_column("area_name"), strict=True))
    cols = 4
    rows = max(1, math.ceil(len(codes) / cols))
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_yaxes=True,
        shared_xaxes=True,
        subplot_titles=[names[c] if c != "REGIO" else "Regio" for c in codes],
        horizontal_spacing=0.04,
        vertical_spacing=0.09,
    )
    region_series = {r["quarter"]: r["pct_over"] for r in _rows(wide.filter(pl.col("level") == "regio"))}
    points: list[float] = []
    uppers: list[float] = []
    hidden_in_legend = False
    for index, code in enumerate(codes):
        row, col = index // cols + 1, index % cols + 1
        series = _rows(wide.filter(pl.col("area_code") == code).sort("quarter"))
        shown = [r for r in series if not _missing(r["pct_over"])]
        if code != "REGIO":
            fig.add_trace(
                go.Scatter(
                    x=quarters,
                    y=[region_series.get(q) for q in quarters],
                    mode="lines",
                    name="regio",
                    legendgroup="regio",
                    showlegend=index == 1,
                    line={"color": GREY, "dash": "dash", "width": 1.5},
                    hoverinfo="skip",
                ),
                row=row,
                col=col,
            )
        plus, minus = _errors(shown, "pct_over")
        fig.add_trace(
            go.Scatter(
                x=[r["quarter"] for r in shown],
                y=[r["pct_over"] for r in shown],
                mode="lines+markers",
                name="% op/boven drempel (95%-BI)",
                legendgroup="gebied",
                showlegend=index == 0,
                line={"color": OKABE_ITO["blue"], "width": 2},
                marker={"symbol": "circle", "size": 8},
                error_y={
                    "type": "data",
                    "array": plus,
                    "arrayminus": minus,
                    "color": OKABE_ITO["blue"],
                    "width": 4,
                },
                customdata=[
                    [
                        names[code],
                        nl_pct(r["pct_over"]),
                        nl_interval(r["pct_over_lower"], r["pct_over_upper"]),
                    ]
                    for r in shown
                ],
                hovertemplate="<b>%{customdata[0]}</b> %{x}<br>%{customdata[1]} (95%-BI %{customdata[2]})"
                "<extra></extra>",
            ),
            row=row,
            col=col,
        )
        points += [r["pct_over"] for r in shown]
        uppers += [r["pct_over_upper"] for r in shown]
        missing = [r for r in series if _missing(r["pct_over"])]
        if missing:
            fig.add_trace(
                go.Scatter(
                    x=[r["quarter"] for r in missing],
                    y=[0] * len(missing),
                    mode="markers",
                    marker={
                        "symbol": "x-thin",
                        "size": 9,
                        "color": GREY,
                        "line": {"width": 2, "color": GREY},
                    },
                    customdata=[why_missing(r) for r in missing],
                    hovertemplate="%{x}: %{customdata}<extra></extra>",
                    name="niet getoond (afgeschermd of geen ingeschrevenen)",
                    legendgroup="hidden",
                    showlegend=not hidden_in_legend,
                    cliponaxis=False,
                ),
                row=row,
                col=col,
            )
            hidden_in_legend = True
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=quarters, tickangle=0)
    fig.update_yaxes(range=[0, axis_cap(points, uppers)], ticksuffix="%")
    fig.update_annotations(font={"size": 12})
    return _layout(fig, height=130 + 200 * rows)


def fig_characteristics(current: pl.DataFrame, profile: Profile) -> go.Figure:
    """% per characteristic for the region and each wijk (values written in the cells)."""
    rows = _rows(current.filter(pl.col("level").is_in(["regio", "wijk"])))
    rows = [r for r in rows if r["level"] == "regio"] + sorted(
        (r for r in rows if r["level"] == "wijk"),
        key=lambda r: (r["area_code"] == OTHER_WIJK, r["area_code"]),
    )
    chars = profile.scored
    names = ["Regio" if r["level"] == "regio" else r["area_name"] for r in rows]
    z = [[r[f"char_pct:{c.id}"] for c in chars] for r in rows]
    text = [[nl_pct(v) for v in line] for line in z]
    fig = go.Figure(
        go.Heatmap(
            z=[[None if _missing(v) else v for v in line] for line in z],
            x=[c.label for c in chars],
            y=names,
            text=text,
            texttemplate="%{text}",
            textfont={"size": 12},
            colorscale="Cividis",
            zmin=0,
            colorbar={"title": {"text": "%"}, "ticksuffix": "%", "thickness": 12},
            hovertemplate="<b>%{y}</b><br>%{x}: %{text}<extra></extra>",
            xgap=2,
            ygap=2,
        )
    )
    fig.update_yaxes(autorange="reversed", showgrid=False)
    fig.update_xaxes(side="top", showgrid=False, tickangle=0)
    fig.update_layout(xaxis={"tickfont": {"size": 11}})
    fig.update_xaxes(tickvals=[c.label for c in chars], ticktext=[wrap(c.label, 20) for c in chars])
    return _layout(fig, height=140 + 30 * len(rows), legend=False)


def fig_outreach(wide: pl.DataFrame, quarters: list[str]) -> go.Figure:
    """Region: listed -> reached -> referred per quarter of the list, and the referral targets."""
    region = {r["quarter"]: r for r in _rows(wide.filter(pl.col("level") == "regio"))}
    fig = make_subplots(
        rows=2,
        cols=1,
        row_heights=[0.55, 0.45],
        vertical_spacing=0.16,
        subplot_titles=[
            "Belijst → bereikt → verwezen (regio, per kwartaal van de lijst; "
            "tussen haakjes: % van de belijst)",
            "Verwezen naar (regio, per kwartaal van de lijst)",
        ],
    )
    steps = (
        ("listed", "op de belijst", OKABE_ITO["sky"], ""),
        ("reached", "bereikt", OKABE_ITO["green"], "/"),
        ("referred", "verwezen", OKABE_ITO["vermillion"], "x"),
    )

    def no_outcome_yet(q: str) -> bool:
        r = region.get(q, {})
        return (
            not _missing(r.get("listed"))
            and r.get("listed", 0) > 0
            and all(r.get(k) == 0 for k in ("reached", "not_reached", "already_in_care"))
        )

    for key, label, colour, pattern in steps:
        values = [region[q][key] if q in region else None for q in quarters]
        texts = [
            "afgeschermd"
            if _missing(v)
            else ""
            if key != "listed" and no_outcome_yet(q)
            else nl_count(v)
            if key == "listed" or _missing(region[q].get(f"pct_{key}"))
            else f"{nl_count(v)} ({nl_pct(region[q][f'pct_{key}'], 0)})"
            for q, v in zip(quarters, values, strict=True)
        ]
        fig.add_trace(
            go.Bar(
                x=quarters,
                y=[0 if _missing(v) else v for v in values],
                name=label,
                marker_color=colour,
                marker_pattern_shape=pattern,
                marker_line={"color": "#333", "width": 1},
                text=texts,
                textposition="outside",
                textangle=0,
                textfont={"size": 12},
                cliponaxis=False,
                hovertemplate=f"{label}: %{{text}}<extra>%{{x}}</extra>",
                legendgroup=key,
            ),
            row=1,
            col=1,
        )
    for q in quarters:
        if no_outcome_yet(q):
            fig.add_annotation(
                x=q,
                y=0,
                xref="x",
                yref="y",
                yshift=12,
                xshift=28,
                showarrow=False,
                text="nog geen uitkomsten<br>teruggemeld",
                font={"size": 11, "color": GREY},
                xanchor="left",
                yanchor="bottom",
                align="left",
            )
    palette = [OKABE_ITO[c] for c in ("blue", "orange", "green", "purple", "sky", "vermillion")]
    patterns = ["", "/", ".", "x", "-", "+"]
    any_referral = False
    for i, quarter in enumerate(quarters):
        r = region.get(quarter, {})
        values = [r.get(f"referred_to:{t}") for t in REFERRAL_TARGETS]
        if all(_missing(v) or v == 0 for v in values):
            continue
        any_referral = True
        fig.add_trace(
            go.Bar(
                y=[REFERRAL_LABELS[t] for t in REFERRAL_TARGETS],
                x=[0 if _missing(v) else v for v in values],
                orientation="h",
                name=f"verwijsdoelen {quarter}",
                marker_color=palette[i % len(palette)],
                marker_pattern_shape=patterns[i % len(patterns)],
                marker_line={"color": "#333", "width": 1},
                text=[nl_count(v) if not _missing(v) else "afgeschermd" for v in values],
                textposition="outside",
                textfont={"size": 12},
                cliponaxis=False,
                hovertemplate="%{y}: %{text}<extra>" + quarter + "</extra>",
            ),
            row=2,
            col=1,
        )
    if not any_referral:
        bottom, top = fig.layout.yaxis2.domain
        fig.add_annotation(
            text="Nog geen verwijzingen teruggemeld (of te weinig om te tonen).",
            showarrow=False,
            xref="paper",
            yref="paper",
            x=0.5,
            y=(bottom + top) / 2,
            font={"size": 13, "color": GREY},
        )
        fig.update_xaxes(visible=False, row=2, col=1)
        fig.update_yaxes(visible=False, row=2, col=1)
    else:
        fig.update_yaxes(autorange="reversed", row=2, col=1)
        fig.update_xaxes(title="aantal personen", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(type="category", row=1, col=1)
    fig.update_yaxes(title="aantal personen", rangemode="tozero", row=1, col=1)
    fig.update_layout(barmode="group", bargap=0.25)
    fig.update_annotations(font={"size": 12})
    return _layout(fig, height=720)


def figure_html(fig: go.Figure, div_id: str, first: bool) -> str:
    return pio.to_html(
        fig,
        config=PLOT_CONFIG,
        include_plotlyjs=first,
        full_html=False,
        div_id=div_id,
        include_mathjax=False,
        default_height=f"{fig.layout.height}px",
    )
