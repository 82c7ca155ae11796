"""The regional dashboard: one self-contained, offline HTML page in Dutch.

Everything on the page comes from the suppressed indicators (the wide frame of
:func:`dashboards.indicators.read_indicators`); nothing here sees a patient.  plotly.js is
inlined once (``include_plotlyjs=True`` on the first chart), and a Content-Security-Policy
forbids the page any network request.  Colours are Okabe-Ito (colour-blind safe) and never
carry meaning alone: marker shapes, patterns, line styles and text labels say the same.
"""

from __future__ import annotations

import datetime as dt
import html
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.subplots import make_subplots

from dashboards.indicator_files import suppression_note
from dashboards.indicators import (
    FUNNEL_ABOVE,
    FUNNEL_BELOW,
    OTHER_WIJK,
    REFERRAL_LABELS,
    catalogue,
)
from dashboards.stats import funnel_limits
from omu.outreach.lists import REFERRAL_TARGETS
from omu.quarters import Quarter
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
DASH = "–"
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)
PLOT_CONFIG = {
    "displaylogo": False,
    "responsive": True,
    "modeBarButtonsToRemove": ["select2d", "lasso2d", "autoScale2d"],
    "toImageButtonOptions": {"format": "png", "scale": 2},
}

CHART_IDS = (
    "grafiek-wijken",
    "grafiek-standaardisatie",
    "grafiek-trechter",
    "grafiek-trend",
    "grafiek-kenmerken",
    "grafiek-belronde",
)


# --------------------------------------------------------------------------------------------
# Dutch number formatting
# --------------------------------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def nl_number(value, digits: int = 1) -> str:
    if _missing(value):
        return DASH
    text = f"{value:,.{digits}f}"
    return text.replace(",", "\0").replace(".", ",").replace("\0", ".")


def nl_count(value) -> str:
    return DASH if _missing(value) else nl_number(int(value), 0)


def nl_pct(value, digits: int = 1) -> str:
    return DASH if _missing(value) else f"{nl_number(value, digits)}%"


def nl_interval(lower, upper, unit: str = "%", digits: int = 1) -> str:
    if _missing(lower) or _missing(upper):
        return DASH
    return f"{nl_number(lower, digits)}–{nl_number(upper, digits)}{unit}"


def with_interval(value, lower, upper) -> str:
    """'2,4% (2,2–2,5)' or a dash."""
    if _missing(value):
        return DASH
    return f"{nl_pct(value)} ({nl_interval(lower, upper, unit='')})"


def esc(text) -> str:
    return html.escape(str(text), quote=True)


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


def _rows(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


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


def funnel_class(row: dict) -> str:
    f998, f95 = row.get("funnel_998"), row.get("funnel_95")
    if f998 == FUNNEL_ABOVE:
        return "boven"
    if f998 == FUNNEL_BELOW:
        return "onder"
    if f95 in (FUNNEL_ABOVE, FUNNEL_BELOW):
        return "tussen"
    return "binnen"


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
    if not practices or _missing(target) or not 0 < target < 100:
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


# --------------------------------------------------------------------------------------------
# Text: what the analyst asked (answered in words, not only in the charts)
# --------------------------------------------------------------------------------------------


def highest_standardised(current: pl.DataFrame) -> dict | None:
    wijken = current.filter(
        (pl.col("level") == "wijk") & (pl.col("area_code") != OTHER_WIJK) & pl.col("dsr_over").is_not_null()
    )
    if wijken.is_empty():
        return None
    top = wijken.sort(["dsr_over", "area_code"], descending=[True, False]).row(0, named=True)
    overlapping = [
        r["area_name"]
        for r in _rows(wijken)
        if r["area_code"] != top["area_code"] and r["dsr_over_upper"] >= top["dsr_over_lower"]
    ]
    return {**top, "overlapping": overlapping}


def funnel_outliers(current: pl.DataFrame) -> dict[str, list[dict]]:
    practices = _rows(current.filter(pl.col("level") == "praktijk").sort("area_code"))
    out: dict[str, list[dict]] = {"boven": [], "onder": [], "tussen": [], "binnen": [], "niet": []}
    for r in practices:
        out["niet" if _missing(r["funnel_998"]) else funnel_class(r)].append(r)
    return out


def _names(items: list[str]) -> str:
    if not items:
        return ""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " en " + items[-1]


def key_findings(current: pl.DataFrame, region: dict, profile: Profile) -> list[str]:
    """The page's answers in plain Dutch (HTML snippets)."""
    lines = []
    top = highest_standardised(current)
    if top is None:
        lines.append(
            "Voor geen enkele wijk kan een leeftijdsgestandaardiseerd aandeel op of boven de drempel "
            "worden getoond (minder dan 10 personen boven de drempel, of afgeschermd)."
        )
    else:
        overlap = (
            f"Het interval overlapt met dat van {esc(_names(top['overlapping']))}: het verschil met "
            f"{'die wijken' if len(top['overlapping']) > 1 else 'die wijk'} kan op toeval berusten."
            if top["overlapping"]
            else "Het interval overlapt met dat van geen enkele andere getoonde wijk."
        )
        lines.append(
            f"<strong>Hoogste leeftijdsgestandaardiseerde aandeel op of boven de drempel: {esc(top['area_name'])}, "
            f"{nl_pct(top['dsr_over'])}</strong> (95%-betrouwbaarheidsinterval "
            f"{nl_interval(top['dsr_over_lower'], top['dsr_over_upper'])}; ruw {nl_pct(top['pct_over'])}). {overlap}"
        )
        missing = [
            r["area_name"]
            for r in _rows(
                current.filter(
                    (pl.col("level") == "wijk")
                    & pl.col("dsr_over").is_null()
                    & (pl.col("area_code") != OTHER_WIJK)
                )
            )
        ]
        if missing:
            lines.append(
                f"Geen gestandaardiseerd aandeel voor {esc(_names(missing))} (minder dan 10 personen "
                "boven de drempel, of afgeschermd)."
            )
    outliers = funnel_outliers(current)
    outside = [
        f"{esc(r['area_code'])} ({'boven' if c == 'boven' else 'onder'} de grens, {nl_pct(r['pct_over'])})"
        for c in ("boven", "onder")
        for r in outliers[c]
    ]
    judged = sum(len(outliers[c]) for c in ("boven", "onder", "tussen", "binnen"))
    if outside:
        lines.append(
            f"<strong>Praktijken buiten de 99,8%-grenzen van de trechterplot: {_names(outside)}.</strong> "
            f"Regiogemiddelde {nl_pct(region.get('pct_over'))}."
        )
    elif judged:
        lines.append(
            f"<strong>Geen enkele praktijk ligt buiten de 99,8%-grenzen van de trechterplot</strong> "
            f"({judged} praktijk{'en' if judged != 1 else ''} beoordeeld; regiogemiddelde "
            f"{nl_pct(region.get('pct_over'))})."
        )
    else:
        lines.append("Geen praktijk kon in de trechterplot worden beoordeeld (kleine aantallen afgeschermd).")
    if outliers["tussen"]:
        lines.append(
            "Buiten de 95%- maar binnen de 99,8%-grenzen (signaal, geen duidelijke afwijking): "
            f"{esc(_names([r['area_code'] for r in outliers['tussen']]))}."
        )
    if outliers["niet"]:
        lines.append(
            "Niet beoordeeld omdat de aantallen zijn afgeschermd: "
            f"{esc(_names([r['area_code'] for r in outliers['niet']]))}."
        )
    lines.append(
        f"Regio: {nl_count(region.get('registered'))} ingeschrevenen bij {nl_count(region.get('practices'))} "
        f"praktijk{'en' if region.get('practices') != 1 else ''}; {nl_pct(region.get('pct_over'))} op of boven de "
        f"drempel van {profile.threshold} punten (95%-BI {nl_interval(region.get('pct_over_lower'), region.get('pct_over_upper'))}); "
        + (
            f"{nl_count(region.get('first_time'))} voor het eerst boven de drempel "
            f"({nl_number(region.get('first_time_per_1000'))} per 1.000)."
            if not _missing(region.get("first_time"))
            else "het aantal dat voor het eerst boven de drempel komt is te klein om te tonen."
        )
    )
    return lines


# --------------------------------------------------------------------------------------------
# The table of figures
# --------------------------------------------------------------------------------------------


def figures_table(current: pl.DataFrame, profile: Profile) -> str:
    head = [
        "Gebied",
        "Niveau",
        "Ingeschreven",
        "Op/boven drempel",
        "% (95%-BI)",
        "Gestandaardiseerd % (95%-BI)",
        "Eerste keer boven drempel",
        "per 1.000",
        "Op belijst",
        "Bereikt",
        "Verwezen",
        "Trechterplot",
    ]
    body = []
    level_names = {"regio": "regio", "wijk": "wijk", "praktijk": "praktijk"}
    for r in _rows(current):
        funnel = {
            "boven": "▲ boven 99,8%",
            "onder": "▼ onder 99,8%",
            "tussen": "■ buiten 95%",
            "binnen": "● binnen 95%",
        }
        cells = [
            esc(r["area_name"]),
            level_names[r["level"]],
            nl_count(r["registered"]),
            nl_count(r["over_threshold"]),
            with_interval(r["pct_over"], r["pct_over_lower"], r["pct_over_upper"]),
            with_interval(r["dsr_over"], r["dsr_over_lower"], r["dsr_over_upper"]),
            nl_count(r["first_time"]),
            nl_number(r["first_time_per_1000"]),
            nl_count(r["listed"]),
            nl_count(r["reached"]),
            nl_count(r["referred"]),
            DASH if r["level"] != "praktijk" or _missing(r["funnel_998"]) else funnel[funnel_class(r)],
        ]
        cls = f"level-{r['level']}"
        body.append(
            f"<tr class='{cls}'>"
            + "".join(f"<td>{c}</td>" if i < 2 else f"<td class='num'>{c}</td>" for i, c in enumerate(cells))
            + "</tr>"
        )
    return (
        "<div class='table-wrap'><table id='tabel-cijfers'><thead><tr>"
        + "".join(f"<th scope='col'>{esc(h)}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------

STYLE = """
:root { --ink:#1b1b1b; --muted:#555; --line:#d9d9d9; --panel:#f6f7f9; --accent:#0072B2; }
* { box-sizing: border-box; }
body { margin:0; font-family:%(font)s; color:var(--ink); background:#fff; line-height:1.45; }
header { background:#0b3d5c; color:#fff; padding:22px 32px 18px; }
header h1 { margin:0 0 4px; font-size:26px; }
header p { margin:0; opacity:.92; }
main { max-width:1220px; margin:0 auto; padding:12px 32px 48px; }
section { margin-top:26px; }
h2 { font-size:20px; margin:0 0 6px; border-bottom:2px solid var(--line); padding-bottom:4px; }
.lead { color:var(--muted); margin:2px 0 10px; max-width:980px; }
.findings { background:var(--panel); border-left:5px solid var(--accent); padding:12px 20px; margin-top:18px; }
.findings h2 { border:none; margin-bottom:2px; }
.findings li { margin:6px 0; }
.grid2 { display:grid; grid-template-columns:1fr 1fr; gap:24px; }
@media (max-width: 980px) { .grid2 { grid-template-columns:1fr; } }
.table-wrap { overflow-x:auto; border:1px solid var(--line); }
table { border-collapse:collapse; font-size:12.5px; width:100%%; }
th, td { padding:4px 6px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { background:#eef2f6; text-align:left; position:sticky; top:0; vertical-align:bottom; white-space:normal; min-width:70px; }
td.num { text-align:right; font-variant-numeric: tabular-nums; }
tr.level-regio td { font-weight:600; background:#f3f7fb; }
tr.level-wijk td:first-child { padding-left:16px; }
tr.level-praktijk td:first-child { padding-left:16px; color:#333; }
.note { font-size:14px; color:#333; max-width:1000px; }
.note dt { font-weight:600; margin-top:10px; }
.note dd { margin:2px 0 0 0; }
footer { color:var(--muted); font-size:12px; margin-top:36px; }
"""


def _figure_html(fig: go.Figure, div_id: str, first: bool) -> str:
    return pio.to_html(
        fig,
        config=PLOT_CONFIG,
        include_plotlyjs=first,
        full_html=False,
        div_id=div_id,
        include_mathjax=False,
        default_height=f"{fig.layout.height}px",
    )


def render(
    wide: pl.DataFrame, profile: Profile, quarter: str, *, generated_at: dt.datetime | None = None
) -> str:
    """The dashboard HTML for ``quarter`` from the suppressed indicators of all quarters up to it."""
    generated_at = generated_at or dt.datetime.now().replace(microsecond=0)
    quarters = sorted(set(wide.get_column("quarter").to_list()))
    current = wide.filter(pl.col("quarter") == quarter)
    region = next(iter(_rows(current.filter(pl.col("level") == "regio"))), {})
    reference = Quarter.parse(quarter).reference_date
    practices_per_quarter = {
        r["quarter"]: r["practices"] for r in _rows(wide.filter(pl.col("level") == "regio"))
    }

    figures = {
        "grafiek-wijken": fig_wijken(current, region),
        "grafiek-standaardisatie": fig_standardised(current, region),
        "grafiek-trechter": fig_funnel(current, region),
        "grafiek-trend": fig_trends(wide, quarters),
        "grafiek-kenmerken": fig_characteristics(current, profile),
        "grafiek-belronde": fig_outreach(wide, quarters),
    }
    charts = {key: _figure_html(fig, key, i == 0) for i, (key, fig) in enumerate(figures.items())}
    findings = "".join(f"<li>{line}</li>" for line in key_findings(current, region, profile))
    composition = "; ".join(f"{q}: {nl_count(practices_per_quarter.get(q))}" for q in quarters)
    methods = {item.key: item.explanation for item in catalogue(profile)}

    return f"""<!DOCTYPE html>
<html lang="nl">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Om U regionaal dashboard {esc(quarter)} — Sterkzorg</title>
<style>{STYLE % {"font": FONT}}</style>
</head>
<body>
<header>
<h1>Om U — regionaal dashboard {esc(quarter)}</h1>
<p>Sterkzorg · peildatum {reference.strftime("%d-%m-%Y")} · {nl_count(region.get("practices"))} praktijken ·
screeningsprofiel <strong>{esc(profile.name)} versie {profile.version}</strong> (drempel {profile.threshold} punten) ·
alleen geaggregeerde, afgeschermde cijfers</p>
</header>
<main>
<section class="findings" aria-labelledby="kern">
<h2 id="kern">Kernpunten {esc(quarter)}</h2>
<ul>{findings}</ul>
</section>

<section aria-labelledby="h-wijken">
<h2 id="h-wijken">Wijken naast elkaar: aandeel op of boven de drempel</h2>
<p class="lead">Per woonwijk het percentage ingeschrevenen met een score van {profile.threshold} of meer (bolletje) met
het 95%-betrouwbaarheidsinterval (horizontale streep, Wilson). De stippellijn is de regio. Overlappende strepen
betekenen dat een verschil op toeval kan berusten. Ruwe percentages hangen sterk af van de leeftijdsopbouw van een
wijk; vergelijk daarom ook de gestandaardiseerde cijfers hieronder.</p>
{charts["grafiek-wijken"]}
</section>

<section aria-labelledby="h-std">
<h2 id="h-std">Leeftijdsgestandaardiseerd: wijken eerlijk vergeleken</h2>
<p class="lead">Ruw percentage (open oranje rondje) naast het direct leeftijdsgestandaardiseerde percentage (blauwe
ruit), allebei met 95%-interval. Standaardisatie rekent elke wijk om naar dezelfde leeftijdsopbouw (Europese
standaardbevolking 2013), zodat een oudere wijk niet alleen door haar leeftijd hoger uitkomt. De wijk bovenaan heeft
het hoogste gestandaardiseerde aandeel. Bij minder dan 10 personen boven de drempel wordt niet gestandaardiseerd.</p>
{charts["grafiek-standaardisatie"]}
</section>

<section aria-labelledby="h-trechter">
<h2 id="h-trechter">Praktijken vergeleken: trechterplot</h2>
<p class="lead">Elke praktijk is een punt: horizontaal het aantal ingeschrevenen, verticaal het percentage op of boven
de drempel. De grenzen rond het regiogemiddelde (exact binomiaal, Spiegelhalter) zijn breder voor kleine praktijken,
omdat toeval daar meer uitmaakt. Gestreept: 95%-grenzen; gestippeld: 99,8%-grenzen. Een praktijk buiten de
99,8%-grenzen (driehoek met praktijkcode) wijkt zeer waarschijnlijk echt af van het regiogemiddelde; vierkantjes liggen
tussen de 95%- en 99,8%-grenzen. Let op: dit is niet voor leeftijd gecorrigeerd.</p>
{charts["grafiek-trechter"]}
</section>

<section aria-labelledby="h-trend">
<h2 id="h-trend">Trend over de kwartalen</h2>
<p class="lead">Percentage op of boven de drempel per geleverd kwartaal (met 95%-interval), voor de regio en per wijk;
de grijze stippellijn is de regio. Alleen kwartalen die praktijken zelf leverden tellen mee (praktijken per kwartaal:
{composition}); een wisselend aantal praktijken kan een trend ook verklaren.</p>
{charts["grafiek-trend"]}
</section>

<section aria-labelledby="h-kenmerken">
<h2 id="h-kenmerken">Risicokenmerken per wijk</h2>
<p class="lead">Percentage ingeschrevenen bij wie elk kenmerk van het profiel geldt, {esc(quarter)}. Het getal staat in
elke cel; een streepje is afgeschermd.</p>
{charts["grafiek-kenmerken"]}
</section>

<section aria-labelledby="h-belronde">
<h2 id="h-belronde">Belronde: van lijst naar verwijzing</h2>
<p class="lead">Hoeveel mensen op de belijst stonden (zonder startlijst), hoeveel er bereikt zijn (contact: bereikt,
verwezen of afgezien) en hoeveel er verwezen zijn, per kwartaal van de lijst, en waarheen. Uitkomsten komen meestal in
het kwartaal na de lijst binnen, dus het laatste kwartaal is vaak nog onvolledig.</p>
{charts["grafiek-belronde"]}
</section>

<section aria-labelledby="h-tabel">
<h2 id="h-tabel">Cijfers {esc(quarter)}</h2>
<p class="lead">De belangrijkste cijfers van dit kwartaal; {DASH} = niet getoond (afgeschermd of niet te berekenen).
Aantallen zijn afgerond op 5; percentages, intervallen, gestandaardiseerde cijfers en de trechterplot zijn berekend uit
afgeronde aantallen. Alle kwartalen en alle indicatoren (ook de kenmerken per praktijk en de verwijsdoelen)
staan in <code>indicators.xlsx</code> en <code>indicators.csv</code> naast deze pagina.</p>
{figures_table(current, profile)}
</section>

<section aria-labelledby="h-toelichting" class="note">
<h2 id="h-toelichting">Toelichting</h2>
<dl>
<dt>Kleine aantallen (afscherming)</dt><dd>{esc(suppression_note(profile))}</dd>
<dt>Screeningsprofiel</dt><dd>{esc(profile.name)} versie {profile.version}: drempel {profile.threshold} punten;
kenmerken: {esc(", ".join(f"{c.label} ({c.weight} punt)" for c in profile.scored))}. Een ander profiel of een andere
versie geeft andere cijfers; vergelijk alleen cijfers van hetzelfde profiel.</dd>
<dt>Welke kwartalen</dt><dd>Alleen kwartalen die een praktijk zelf leverde. De eerste levering van een praktijk berekent
ook eerdere kwartalen terug (backfill); die dienen alleen om te bepalen wie echt voor het eerst boven de drempel komt en
tellen niet mee in deze cijfers of trends.</dd>
<dt>Wijk</dt><dd>De woonwijk van de patiënt (CBS-wijkcode), niet de vestiging van de praktijk.</dd>
<dt>Betrouwbaarheidsintervallen</dt><dd>{esc(methods["pct_over"])} Wilson EB (1927); Newcombe RG (1998), Stat Med
17:857-872.</dd>
<dt>Leeftijdsstandaardisatie</dt><dd>{esc(methods["dsr_over"])} Eurostat (2013) Revision of the European Standard
Population; Dobson AJ e.a. (1991), Stat Med 10:457-462.</dd>
<dt>Trechterplot</dt><dd>Spiegelhalter DJ (2005), Funnel plots for comparing institutional performance, Stat Med
24:1185-1202. Grenzen rond het (ruwe) regiogemiddelde van het kwartaal; alles berekend uit afgeronde aantallen (afgerond op 5),
ook de praktijkgrootte op de horizontale as.</dd>
<dt>Belronde</dt><dd>Bereikt = uitkomst bereikt, verwezen of afgezien; al in zorg en niet bereikt tellen apart.
Uitkomsten van de startlijst tellen hier niet mee.</dd>
</dl>
</section>
<footer>Gemaakt door omu op {generated_at.strftime("%d-%m-%Y %H:%M")} · synthetische of gepseudonimiseerde
gegevens, alleen aggregaten · deze pagina werkt zonder internet en haalt niets op.</footer>
</main>
</body>
</html>
"""


def write_dashboard(path: Path, wide: pl.DataFrame, profile: Profile, quarter: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(wide, profile, quarter), encoding="utf-8")
    return path
