"""The dashboard's words: Dutch numbers and the key findings, the answers in plain Dutch.

The findings are HTML sentences (a few words in bold) built with :meth:`markupsafe.Markup.format`,
which escapes every name it fills in (wijk names and practice codes come from reference data).
"""

from __future__ import annotations

import math

import polars as pl
from markupsafe import Markup

from omu.dashboards.indicators import FUNNEL_ABOVE, FUNNEL_BELOW, OTHER_WIJK
from omu.screening.profile import Profile

DASH = "–"


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


def _rows(frame: pl.DataFrame) -> list[dict]:
    return frame.to_dicts()


def funnel_class(row: dict) -> str:
    f998, f95 = row.get("funnel_998"), row.get("funnel_95")
    if f998 == FUNNEL_ABOVE:
        return "boven"
    if f998 == FUNNEL_BELOW:
        return "onder"
    if f95 in (FUNNEL_ABOVE, FUNNEL_BELOW):
        return "tussen"
    return "binnen"


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


def key_findings(current: pl.DataFrame, region: dict, profile: Profile) -> list[Markup]:
    """The page's answers in plain Dutch: HTML sentences, every name in them escaped."""
    lines: list[Markup] = []
    top = highest_standardised(current)
    if top is None:
        lines.append(
            Markup(
                "Voor geen enkele wijk kan een leeftijdsgestandaardiseerd aandeel op of boven de drempel "
                "worden getoond (minder dan 10 personen boven de drempel, of afgeschermd)."
            )
        )
    else:
        overlap = (
            Markup(
                "Het interval overlapt met dat van {}: het verschil met {} kan op toeval berusten."
            ).format(_names(top["overlapping"]), "die wijken" if len(top["overlapping"]) > 1 else "die wijk")
            if top["overlapping"]
            else Markup("Het interval overlapt met dat van geen enkele andere getoonde wijk.")
        )
        lines.append(
            Markup(
                "<strong>Hoogste leeftijdsgestandaardiseerde aandeel op of boven de drempel: {}, {}</strong> "
                "(95%-betrouwbaarheidsinterval {}; ruw {}). {}"
            ).format(
                top["area_name"],
                nl_pct(top["dsr_over"]),
                nl_interval(top["dsr_over_lower"], top["dsr_over_upper"]),
                nl_pct(top["pct_over"]),
                overlap,
            )
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
                Markup(
                    "Geen gestandaardiseerd aandeel voor {} (minder dan 10 personen boven de drempel, of afgeschermd)."
                ).format(_names(missing))
            )
    outliers = funnel_outliers(current)
    outside = [
        f"{r['area_code']} ({'boven' if c == 'boven' else 'onder'} de grens, {nl_pct(r['pct_over'])})"
        for c in ("boven", "onder")
        for r in outliers[c]
    ]
    judged = sum(len(outliers[c]) for c in ("boven", "onder", "tussen", "binnen"))
    if outside:
        lines.append(
            Markup(
                "<strong>Praktijken buiten de 99,8%-grenzen van de trechterplot: {}.</strong> Regiogemiddelde {}."
            ).format(_names(outside), nl_pct(region.get("pct_over")))
        )
    elif judged:
        lines.append(
            Markup(
                "<strong>Geen enkele praktijk ligt buiten de 99,8%-grenzen van de trechterplot</strong> "
                "({} praktijk{} beoordeeld; regiogemiddelde {})."
            ).format(judged, "en" if judged != 1 else "", nl_pct(region.get("pct_over")))
        )
    else:
        lines.append(
            Markup("Geen praktijk kon in de trechterplot worden beoordeeld (kleine aantallen afgeschermd).")
        )
    if outliers["tussen"]:
        lines.append(
            Markup(
                "Buiten de 95%- maar binnen de 99,8%-grenzen (signaal, geen duidelijke afwijking): {}."
            ).format(_names([r["area_code"] for r in outliers["tussen"]]))
        )
    if outliers["niet"]:
        lines.append(
            Markup("Niet beoordeeld omdat de aantallen zijn afgeschermd: {}.").format(
                _names([r["area_code"] for r in outliers["niet"]])
            )
        )
    first_time = (
        f"{nl_count(region.get('first_time'))} voor het eerst boven de drempel "
        f"({nl_number(region.get('first_time_per_1000'))} per 1.000)."
        if not _missing(region.get("first_time"))
        else "het aantal dat voor het eerst boven de drempel komt is te klein om te tonen."
    )
    lines.append(
        Markup(
            "Regio: {} ingeschrevenen bij {} praktijk{}; {} op of boven de drempel van {} punten (95%-BI {}); {}"
        ).format(
            nl_count(region.get("registered")),
            nl_count(region.get("practices")),
            "en" if region.get("practices") != 1 else "",
            nl_pct(region.get("pct_over")),
            profile.threshold,
            nl_interval(region.get("pct_over_lower"), region.get("pct_over_upper")),
            first_time,
        )
    )
    return lines
