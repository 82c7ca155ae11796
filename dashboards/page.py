"""The regional dashboard: one self-contained, offline HTML page in Dutch.

Everything on the page comes from the suppressed indicators (the wide frame of
:func:`omu.dashboards.indicators.read_indicators`); nothing here sees a patient. The page is split in
three: the figures (:mod:`omu.dashboards.figures`, plotly), the words (:mod:`omu.dashboards.texts`, Dutch
numbers and findings) and the layout (``templates/dashboard.html.j2``, Jinja2 with autoescape).
plotly.js is inlined once (in the first chart), and a Content-Security-Policy forbids the page any
network request.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl

from omu.dashboards.figures import (
    FONT,
    fig_characteristics,
    fig_funnel,
    fig_outreach,
    fig_standardised,
    fig_trends,
    fig_wijken,
    figure_html,
)
from omu.dashboards.indicator_files import suppression_note
from omu.dashboards.indicators import catalogue
from omu.dashboards.texts import (
    DASH,
    _missing,
    _rows,
    funnel_class,
    key_findings,
    nl_count,
    nl_number,
    with_interval,
)
from omu.file_writing import write_text_atomically
from omu.quarters import Quarter
from omu.reference import outcome_words
from omu.render import render as render_template
from omu.render import safe
from omu.screening.profile import Profile

CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data: blob:; "
    "font-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"
)

CHART_IDS = (
    "grafiek-wijken",
    "grafiek-standaardisatie",
    "grafiek-trechter",
    "grafiek-trend",
    "grafiek-kenmerken",
    "grafiek-belronde",
)

TABLE_HEAD = (
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
)
FUNNEL_LABELS = {
    "boven": "▲ boven 99,8%",
    "onder": "▼ onder 99,8%",
    "tussen": "■ buiten 95%",
    "binnen": "● binnen 95%",
}


def figures_table(current: pl.DataFrame) -> dict:
    """The table of figures of the quarter: its head and, per area, its level and cells (text)."""
    rows = [
        {
            "level": r["level"],
            "cells": [
                r["area_name"],
                r["level"],
                nl_count(r["registered"]),
                nl_count(r["over_threshold"]),
                with_interval(r["pct_over"], r["pct_over_lower"], r["pct_over_upper"]),
                with_interval(r["dsr_over"], r["dsr_over_lower"], r["dsr_over_upper"]),
                nl_count(r["first_time"]),
                nl_number(r["first_time_per_1000"]),
                nl_count(r["listed"]),
                nl_count(r["reached"]),
                nl_count(r["referred"]),
                DASH
                if r["level"] != "praktijk" or _missing(r["funnel_998"])
                else FUNNEL_LABELS[funnel_class(r)],
            ],
        }
        for r in _rows(current)
    ]
    return {"head": TABLE_HEAD, "rows": rows}


def render(
    wide: pl.DataFrame, profile: Profile, quarter: str, *, generated_at: dt.datetime | None = None
) -> str:
    """The dashboard HTML for ``quarter`` from the suppressed indicators of all quarters up to it."""
    generated_at = generated_at or dt.datetime.now().replace(microsecond=0)
    quarters = sorted(set(wide.get_column("quarter").to_list()))
    current = wide.filter(pl.col("quarter") == quarter)
    region = next(iter(_rows(current.filter(pl.col("level") == "regio"))), {})
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
    return render_template(
        "omu.dashboards",
        "dashboard.html.j2",
        csp=CSP,
        font=FONT,
        dash=DASH,
        quarter=quarter,
        profile=profile,
        reference_date=Quarter.parse(quarter).reference_date.strftime("%d-%m-%Y"),
        practices=nl_count(region.get("practices")),
        findings=key_findings(current, region, profile),
        # plotly's own fragments: made here from numbers and escaped labels, so safe to inline
        charts={key: safe(figure_html(fig, key, i == 0)) for i, (key, fig) in enumerate(figures.items())},
        composition="; ".join(f"{q}: {nl_count(practices_per_quarter.get(q))}" for q in quarters),
        table=figures_table(current),
        suppression_note=suppression_note(profile),
        characteristics=", ".join(f"{c.label} ({c.weight} punt)" for c in profile.scored),
        methods={item.key: item.explanation for item in catalogue(profile)},
        generated_at=generated_at.strftime("%d-%m-%Y %H:%M"),
        reached_words=outcome_words(reached=True),
        not_reached_words=outcome_words("en", reached=False),
    )


def write_dashboard(path: Path, wide: pl.DataFrame, profile: Profile, quarter: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, render(wide, profile, quarter))
    return path
