"""Regional indicators per quarter for the region, each wijk and each practice (issue 7).

Counting is SQL (``sql/dashboards/``) over the ``screening`` view and the outreach tables; the
statistics come from :mod:`dashboards.stats` and small-number suppression from
:mod:`dashboards.suppression`, applied **here, once, to the whole table** before anything is
stored: :func:`store_indicators` is the only way figures reach the ``indicators`` table, and
every file under ``out/<quarter>/region/`` is written from that table.

Which quarters: only quarters a practice *delivered* make its figures; rows the first delivery
backfilled for earlier quarters serve the first-time history only (docs/dashboards.md).  A
dashboard for quarter Q recomputes every delivered quarter up to Q (for the trends, and so late
outreach outcomes reach earlier quarters); suppression is deterministic, so unchanged data gives
unchanged figures.

Layouts: *wide* in Python (one row per quarter and area, one column per figure, see
:func:`catalogue`), *long* in DuckDB (one row per quarter, area and indicator, with ``value``,
``lower``, ``upper``; see ``sql/dashboards/schema.sql``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import duckdb
import numpy as np
import polars as pl

from dashboards.stats import age_standardised_rate, funnel_limits
from dashboards.suppression import Rate, suppress_table
from omu.home import REPO_ROOT
from omu.outreach.lists import REFERRAL_LABELS, REFERRAL_TARGETS
from omu.screening.profile import Profile
from omu.sql import query, run_sql, run_sql_in_transaction

WIJKEN_CSV = REPO_ROOT / "clinical" / "reference" / "wijken.csv"
LEVELS = ("regio", "wijk", "praktijk")
REGION_CODE = "REGIO"
OTHER_WIJK = "OVERIG"
KEYS = ("quarter", "level", "area_code", "area_name")


# Funnel-plot position of a practice, stored as a number (derived figures are numbers).
FUNNEL_BELOW, FUNNEL_INSIDE, FUNNEL_ABOVE = -1.0, 0.0, 1.0
FUNNEL_WORDS = {FUNNEL_BELOW: "onder", FUNNEL_INSIDE: "binnen", FUNNEL_ABOVE: "boven"}


class NotDelivered(LookupError):
    """No practice delivered the quarter (backfilled rows alone make no regional figures)."""


@dataclass(frozen=True)
class Indicator:
    key: str  # column in the wide frame, `indicator` in the table
    label: str  # Dutch header
    unit: str  # aantal | % | per 1.000 | praktijken | trechter
    explanation: str  # Dutch, for the Toelichting sheet and the page
    interval: bool = False  # has <key>_lower and <key>_upper (95 %)
    person_count: bool = False  # a count of people: suppressed and rounded


def characteristic_ids(profile: Profile) -> list[str]:
    return [c.id for c in profile.scored]


def catalogue(profile: Profile) -> list[Indicator]:
    """Every indicator, in the order of the files' columns."""
    t = profile.threshold
    items = [
        Indicator("practices", "Praktijken (aantal, geen personen)", "praktijken",
                  "Aantal praktijken met ingeschreven patiënten in dit gebied die dit kwartaal leverden."),
        Indicator("registered", "Ingeschreven patiënten", "aantal",
                  "Patiënten ingeschreven op de peildatum (laatste dag van het kwartaal).", person_count=True),
        Indicator("over_threshold", f"Op/boven drempel ({t} punten), aantal", "aantal",
                  f"Patiënten met een score van {t} of meer.", person_count=True),
        Indicator("pct_over", "Op/boven drempel (%)", "%",
                  "Aandeel ingeschrevenen op of boven de drempel, met Wilson-95%-betrouwbaarheidsinterval.",
                  interval=True),
        Indicator("dsr_over", "Op/boven drempel, leeftijdsgestandaardiseerd (%)", "%",
                  "Direct gestandaardiseerd naar de Europese standaardbevolking 2013 (ESP2013), 95%-interval "
                  "volgens Byar/Dobson; niet berekend bij minder dan 10 personen boven de drempel.",
                  interval=True),
        Indicator("first_time", "Eerste keer boven drempel (aantal)", "aantal",
                  "Patiënten die dit kwartaal voor het eerst op of boven de drempel komen.", person_count=True),
        Indicator("first_time_per_1000", "Eerste keer boven drempel per 1.000", "per 1.000",
                  "Eerste keer boven de drempel per 1.000 ingeschrevenen, met Wilson-95%-interval.",
                  interval=True),
        Indicator("baseline", "Startlijst (al eerder boven drempel)", "aantal",
                  "In het eerste geleverde kwartaal van een praktijk: al eerder boven de drempel "
                  "(aparte startlijst).", person_count=True),
    ]
    for c in profile.scored:
        items.append(Indicator(f"char_n:{c.id}", f"Kenmerk: {c.label} (aantal)", "aantal",
                               f"Ingeschrevenen bij wie het kenmerk '{c.label}' geldt.", person_count=True))
        items.append(Indicator(f"char_pct:{c.id}", f"Kenmerk: {c.label} (%)", "%",
                               f"Aandeel ingeschrevenen bij wie het kenmerk '{c.label}' geldt."))
    items += [
        Indicator("in_deprived_wijk", "Wonend in wijk met hoge achterstand (aantal)", "aantal",
                  "Ingeschrevenen in een wijk met achterstandsgroep 'hoog' (clinical/reference/wijken.csv; "
                  "een aanname van omu, geen officiële index).", person_count=True),
        Indicator("pct_in_deprived_wijk", "Wonend in wijk met hoge achterstand (%)", "%",
                  "Aandeel ingeschrevenen in een wijk met hoge achterstand (Krachtige basiszorg: meer dan 25%)."),
        Indicator("listed", "Op de belijst", "aantal",
                  "Patiënten op de belijst van het kwartaal (binnen de capaciteit; zonder startlijst).",
                  person_count=True),
        Indicator("reached", "Bereikt", "aantal",
                  "Uitkomst bereikt, verwezen of afgezien: er was contact.", person_count=True),
        Indicator("pct_reached", "Bereikt (% van belijst)", "%", "Bereikt als aandeel van de belijst.",
                  interval=True),
        Indicator("not_reached", "Niet bereikt", "aantal", "Uitkomst niet bereikt.", person_count=True),
        Indicator("already_in_care", "Al in zorg", "aantal", "Uitkomst al in zorg.", person_count=True),
        Indicator("referred", "Verwezen", "aantal", "Uitkomst verwezen.", person_count=True),
        Indicator("pct_referred", "Verwezen (% van belijst)", "%", "Verwezen als aandeel van de belijst.",
                  interval=True),
    ]
    for target in REFERRAL_TARGETS:
        items.append(Indicator(f"referred_to:{target}", f"Verwezen naar {REFERRAL_LABELS[target]}", "aantal",
                               f"Verwezen, met als doel {REFERRAL_LABELS[target]}.", person_count=True))
    items += [
        Indicator("funnel_95", "Trechterplot 95%", "trechter",
                  "Praktijk: aandeel op/boven drempel boven, binnen of onder de 95%-grenzen rond het "
                  "regiogemiddelde (exact binomiaal, Spiegelhalter)."),
        Indicator("funnel_998", "Trechterplot 99,8%", "trechter",
                  "Praktijk: boven, binnen of onder de 99,8%-grenzen; buiten deze grenzen is een verschil "
                  "met het regiogemiddelde zeer onwaarschijnlijk door toeval alleen."),
    ]
    return items


def person_count_columns(profile: Profile) -> list[str]:
    return [i.key for i in catalogue(profile) if i.person_count]


def profile_variables(profile: Profile) -> dict:
    return {"profile_name": profile.name, "profile_version": profile.version}


def delivered_quarters(conn: duckdb.DuckDBPyConnection, profile: Profile) -> list[str]:
    return [q for (q,) in query(conn, "dashboards/delivered", profile_variables(profile)).fetchall()]


# --------------------------------------------------------------------------------------------
# Computing: raw counts (SQL) -> statistics -> suppression, all inside one function
# --------------------------------------------------------------------------------------------


def _raw_counts(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(wide raw counts per quarter and area, band counts). Never leaves this module unsuppressed."""
    run_sql(conn, "dashboards/people", {
        **profile_variables(profile), "quarter": quarter, "characteristics": characteristic_ids(profile),
        "wijken_csv": str(WIJKEN_CSV),
    })
    try:
        areas = query(conn, "dashboards/areas").pl()
        counts = query(conn, "dashboards/counts").pl()
        bands = query(conn, "dashboards/age_bands").pl()
    finally:
        run_sql(conn, "dashboards/cleanup")
    columns = person_count_columns(profile)
    wide = areas
    if counts.height:
        pivoted = counts.pivot(on="measure", index=["quarter", "level", "area_code"], values="n")
        wide = areas.join(pivoted, on=["quarter", "level", "area_code"], how="left")
    wide = wide.with_columns(
        [pl.col(c).fill_null(0).cast(pl.Int64) if c in wide.columns else pl.lit(0, pl.Int64).alias(c)
         for c in columns]
    ).select(*KEYS, "practices", *columns)
    return wide, bands


def _age_standardised(wide: pl.DataFrame, bands: pl.DataFrame) -> pl.DataFrame:
    """dsr_over, dsr_over_lower, dsr_over_upper (in %) per row of ``wide``, from exact band counts."""
    n = wide.height
    events = np.zeros((n, 19))
    population = np.zeros((n, 19))
    index = {key: i for i, key in enumerate(wide.select("quarter", "level", "area_code").iter_rows())}
    for quarter, level, area, band, pop, ev in bands.select(
        "quarter", "level", "area_code", "band", "population", "events"
    ).iter_rows():
        i = index[(quarter, level, area)]
        population[i, band] = pop
        events[i, band] = ev
    rate, lower, upper = age_standardised_rate(events, population, per=100.0)
    return wide.with_columns(
        pl.Series("dsr_over", rate, dtype=pl.Float64),
        pl.Series("dsr_over_lower", lower, dtype=pl.Float64),
        pl.Series("dsr_over_upper", upper, dtype=pl.Float64),
    )


def _funnel_positions(wide: pl.DataFrame) -> pl.DataFrame:
    """funnel_95 / funnel_998 per practice: -1 below, 0 inside, +1 above the limits around the
    region's proportion of its quarter (exact counts; published only where those are shown)."""
    pos = {0.95: np.full(wide.height, np.nan), 0.998: np.full(wide.height, np.nan)}
    region = {q: (o, r) for q, o, r in wide.filter(pl.col("level") == "regio")
              .select("quarter", "over_threshold", "registered").iter_rows()}
    level = wide.get_column("level").to_numpy()
    quarter = wide.get_column("quarter").to_numpy()
    over = wide.get_column("over_threshold").to_numpy().astype(float)
    registered = wide.get_column("registered").to_numpy().astype(float)
    for i in np.flatnonzero((level == "praktijk") & (registered > 0)):
        o, r = region[quarter[i]]
        if not 0 < o < r:
            continue
        for confidence, out in pos.items():
            lower, upper = funnel_limits(o / r, registered[i], confidence)
            p = over[i] / registered[i]
            out[i] = FUNNEL_ABOVE if p > upper else FUNNEL_BELOW if p < lower else FUNNEL_INSIDE
    return wide.with_columns(pl.Series("funnel_95", pos[0.95]), pl.Series("funnel_998", pos[0.998]))


def suppression_spec(profile: Profile) -> dict:
    """The arguments of :func:`dashboards.suppression.suppress_table` for the indicator table:
    every additive relation declared, the same every quarter."""
    chars = [f"char_n:{c}" for c in characteristic_ids(profile)]
    targets = [f"referred_to:{t}" for t in REFERRAL_TARGETS]
    relations = [
        ("registered", ["over_threshold"]),
        *[("registered", [c]) for c in chars],
        ("registered", ["in_deprived_wijk"]),
        ("registered", ["listed"]),
        ("over_threshold", ["first_time", "baseline"]),
        ("registered", ["first_time"]),  # the rate's own pair, besides the chain through over_threshold
        ("listed", ["reached", "not_reached", "already_in_care"]),
        ("reached", ["referred"]),
        ("listed", ["referred"]),
        ("referred", targets),
    ]
    rates = {
        "pct_over": Rate("over_threshold", "registered", 100.0, interval=True),
        "first_time_per_1000": Rate("first_time", "registered", 1000.0, interval=True),
        **{f"char_pct:{c}": Rate(f"char_n:{c}", "registered", 100.0) for c in characteristic_ids(profile)},
        "pct_in_deprived_wijk": Rate("in_deprived_wijk", "registered", 100.0),
        "pct_reached": Rate("reached", "listed", 100.0, interval=True),
        "pct_referred": Rate("referred", "listed", 100.0, interval=True),
    }
    both = ["over_threshold", "registered"]
    derived = {c: both for c in ("dsr_over", "dsr_over_lower", "dsr_over_upper", "funnel_95", "funnel_998")}
    return {
        "count_columns": person_count_columns(profile),
        # Each quarter on its own; within it the wijken add up to the region and so do the
        # practices (the region row is a group of its own: its totals count as known).
        "groups": ["quarter", "level"],
        "column_totals": relations,
        "rates": rates,
        "derived": derived,
    }


def compute_indicators(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> pl.DataFrame:
    """The suppressed indicators (wide) of every delivered quarter up to ``quarter``."""
    delivered = delivered_quarters(conn, profile)
    if quarter not in delivered:
        known = ", ".join(delivered) or "none"
        raise NotDelivered(f"no practice delivered {quarter} under profile {profile.name} v{profile.version} "
                           f"(delivered quarters: {known})")
    raw, bands = _raw_counts(conn, profile, quarter)
    raw = _funnel_positions(_age_standardised(raw, bands))
    shown = suppress_table(raw, **suppression_spec(profile))
    order = [i.key for i in catalogue(profile)]
    columns = list(KEYS)
    for key in order:
        columns.append(key)
        if f"{key}_lower" in shown.columns:
            columns += [f"{key}_lower", f"{key}_upper"]
    level_rank = pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, return_dtype=pl.Int32)
    return shown.select(columns).sort(["quarter", level_rank, "area_code"])


# --------------------------------------------------------------------------------------------
# Storing and reading (the table holds suppressed figures only)
# --------------------------------------------------------------------------------------------


def to_long(wide: pl.DataFrame, profile: Profile, computed_at: dt.datetime) -> pl.DataFrame:
    parts = []
    for item in catalogue(profile):
        has_interval = f"{item.key}_lower" in wide.columns
        parts.append(wide.select(
            *KEYS,
            pl.lit(item.key).alias("indicator"),
            pl.lit(item.unit).alias("unit"),
            pl.col(item.key).cast(pl.Float64).alias("value"),
            (pl.col(f"{item.key}_lower") if has_interval else pl.lit(None)).cast(pl.Float64).alias("lower"),
            (pl.col(f"{item.key}_upper") if has_interval else pl.lit(None)).cast(pl.Float64).alias("upper"),
        ))
    return pl.concat(parts).with_columns(
        pl.lit(profile.name).alias("profile_name"),
        pl.lit(profile.version, pl.Int32).alias("profile_version"),
        pl.lit(computed_at).alias("computed_at"),
    )


def to_wide(long: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """The stored long rows back as the wide frame (catalogue order; missing indicators null)."""
    items = catalogue(profile)
    if long.is_empty():
        return pl.DataFrame(schema={**{k: pl.String for k in KEYS},
                                    **{i.key: pl.Float64 for i in items}})
    values = long.pivot(on="indicator", index=list(KEYS), values=["value", "lower", "upper"])
    # pivot with several value columns names them value_<indicator>, lower_<indicator>, ...
    columns = [pl.col(k) for k in KEYS]
    for item in items:
        for part, suffix in (("value", ""), ("lower", "_lower"), ("upper", "_upper")):
            if part != "value" and not item.interval:
                continue
            source = f"{part}_{item.key}"
            expr = pl.col(source) if source in values.columns else pl.lit(None, pl.Float64)
            if item.person_count or item.unit == "praktijken":
                expr = expr.cast(pl.Int64)
            columns.append(expr.alias(f"{item.key}{suffix}"))
    level_rank = pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, return_dtype=pl.Int32)
    return values.select(columns).sort(["quarter", level_rank, "area_code"])


def store_indicators(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> pl.DataFrame:
    """Compute, suppress and store the indicators of every delivered quarter up to ``quarter``
    (replacing their earlier rows, in one transaction). Returns the suppressed wide frame."""
    wide = compute_indicators(conn, profile, quarter)
    run_sql(conn, "dashboards/schema")
    long = to_long(wide, profile, dt.datetime.now().replace(microsecond=0))
    conn.register("indicators_new", long.to_arrow())
    try:
        run_sql_in_transaction(conn, "dashboards/write", {
            **profile_variables(profile), "quarters": sorted(set(wide.get_column("quarter").to_list())),
        })
    finally:
        conn.unregister("indicators_new")
    return wide


def read_indicators(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> pl.DataFrame:
    """The stored (suppressed) indicators, wide, of every quarter up to ``quarter``."""
    run_sql(conn, "dashboards/schema")
    long = query(conn, "dashboards/read", {**profile_variables(profile), "quarter": quarter}).pl()
    return to_wide(long, profile)
