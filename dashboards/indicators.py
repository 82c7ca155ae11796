"""Regional indicators per quarter for the region, each wijk and each practice.

Counting is SQL (``sql/dashboards/``) over the ``screening`` view and the outreach tables; the
statistics come from :mod:`omu.dashboards.stats` and small-number suppression from
:mod:`omu.dashboards.suppression`, applied **here, once, to the whole table** before anything is
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

from omu.dashboards.disclosure import Version, audit, protect, round_band
from omu.dashboards.stats import age_standardised_rate, funnel_limits, wilson_interval
from omu.dashboards.suppression import Rate, rate_if_shown
from omu.outreach.lists import REFERRAL_LABELS, REFERRAL_TARGETS
from omu.reference import outcome_words
from omu.screening.profile import Profile
from omu.sql import query, run_sql, run_sql_in_transaction

LEVELS = ("regio", "wijk", "praktijk")
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
        Indicator(
            "practices",
            "Praktijken (aantal, geen personen)",
            "praktijken",
            "Aantal praktijken met ingeschreven patiënten in dit gebied die dit kwartaal leverden.",
        ),
        Indicator(
            "registered",
            "Ingeschreven patiënten",
            "aantal",
            "Patiënten ingeschreven op de peildatum (laatste dag van het kwartaal).",
            person_count=True,
        ),
        Indicator(
            "over_threshold",
            f"Op/boven drempel ({t} punten), aantal",
            "aantal",
            f"Patiënten met een score van {t} of meer.",
            person_count=True,
        ),
        Indicator(
            "pct_over",
            "Op/boven drempel (%)",
            "%",
            "Aandeel ingeschrevenen op of boven de drempel, met Wilson-95%-betrouwbaarheidsinterval; "
            "berekend uit afgeronde aantallen.",
            interval=True,
        ),
        Indicator(
            "dsr_over",
            "Op/boven drempel, leeftijdsgestandaardiseerd (%)",
            "%",
            "Direct gestandaardiseerd naar de Europese standaardbevolking 2013 (ESP2013), 95%-interval "
            "volgens Byar/Dobson; berekend uit aantallen per leeftijdsgroep afgerond op 10; niet berekend bij "
            "minder dan 10 personen boven de drempel.",
            interval=True,
        ),
        Indicator(
            "first_time",
            "Eerste keer boven drempel (aantal)",
            "aantal",
            "Patiënten die dit kwartaal voor het eerst op of boven de drempel komen.",
            person_count=True,
        ),
        Indicator(
            "first_time_per_1000",
            "Eerste keer boven drempel per 1.000",
            "per 1.000",
            "Eerste keer boven de drempel per 1.000 ingeschrevenen, met Wilson-95%-interval; berekend uit "
            "afgeronde aantallen.",
            interval=True,
        ),
        Indicator(
            "baseline",
            "Startlijst (al eerder boven drempel)",
            "aantal",
            "In het eerste geleverde kwartaal van een praktijk: al eerder boven de drempel "
            "(aparte startlijst).",
            person_count=True,
        ),
    ]
    for c in profile.scored:
        items.append(
            Indicator(
                f"char_n:{c.id}",
                f"Kenmerk: {c.label} (aantal)",
                "aantal",
                f"Ingeschrevenen bij wie het kenmerk '{c.label}' geldt.",
                person_count=True,
            )
        )
        items.append(
            Indicator(
                f"char_pct:{c.id}",
                f"Kenmerk: {c.label} (%)",
                "%",
                f"Aandeel ingeschrevenen bij wie het kenmerk '{c.label}' geldt; berekend uit afgeronde aantallen.",
            )
        )
    items += [
        Indicator(
            "in_deprived_wijk",
            "Wonend in wijk met hoge achterstand (aantal)",
            "aantal",
            "Ingeschrevenen in een wijk met achterstandsgroep 'hoog' (clinical/reference/wijken.csv; "
            "een aanname van omu, geen officiële index).",
            person_count=True,
        ),
        Indicator(
            "pct_in_deprived_wijk",
            "Wonend in wijk met hoge achterstand (%)",
            "%",
            "Aandeel ingeschrevenen in een wijk met hoge achterstand (Krachtige basiszorg: meer dan 25%); "
            "berekend uit afgeronde aantallen.",
        ),
        Indicator(
            "listed",
            "Op de belijst",
            "aantal",
            "Patiënten op de belijst van het kwartaal (binnen de capaciteit; zonder startlijst).",
            person_count=True,
        ),
        Indicator(
            "reached",
            "Bereikt",
            "aantal",
            f"Uitkomst {outcome_words(reached=True)}: er was contact.",
            person_count=True,
        ),
        Indicator(
            "pct_reached",
            "Bereikt (% van belijst)",
            "%",
            "Bereikt als aandeel van de belijst; berekend uit afgeronde aantallen.",
            interval=True,
        ),
        Indicator("not_reached", "Niet bereikt", "aantal", "Uitkomst niet bereikt.", person_count=True),
        Indicator("already_in_care", "Al in zorg", "aantal", "Uitkomst al in zorg.", person_count=True),
        Indicator("referred", "Verwezen", "aantal", "Uitkomst verwezen.", person_count=True),
        Indicator(
            "pct_referred",
            "Verwezen (% van belijst)",
            "%",
            "Verwezen als aandeel van de belijst; berekend uit afgeronde aantallen.",
            interval=True,
        ),
    ]
    for target in REFERRAL_TARGETS:
        items.append(
            Indicator(
                f"referred_to:{target}",
                f"Verwezen naar {REFERRAL_LABELS[target]}",
                "aantal",
                f"Verwezen, met als doel {REFERRAL_LABELS[target]}.",
                person_count=True,
            )
        )
    items += [
        Indicator(
            "funnel_95",
            "Trechterplot 95%",
            "trechter",
            "Praktijk: aandeel op/boven drempel boven, binnen of onder de 95%-grenzen rond het "
            "regiogemiddelde (exact binomiaal, Spiegelhalter); berekend uit afgeronde aantallen.",
        ),
        Indicator(
            "funnel_998",
            "Trechterplot 99,8%",
            "trechter",
            "Praktijk: boven, binnen of onder de 99,8%-grenzen; buiten deze grenzen is een verschil "
            "met het regiogemiddelde zeer onwaarschijnlijk door toeval alleen.",
        ),
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


def _raw_counts(
    conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(wide raw counts per quarter and area, band counts, practice/wijk pairs served).
    Never leaves this module unprotected."""
    run_sql(
        conn,
        "dashboards/people",
        {
            **profile_variables(profile),
            "quarter": quarter,
            "characteristics": characteristic_ids(profile),
        },
    )
    try:
        areas = query(conn, "dashboards/areas").pl()
        counts = query(conn, "dashboards/counts").pl()
        bands = query(conn, "dashboards/age_bands").pl()
        served = query(conn, "dashboards/served").pl()
    finally:
        run_sql(conn, "dashboards/cleanup")
    columns = person_count_columns(profile)
    wide = areas
    if counts.height:
        pivoted = counts.pivot(on="measure", index=["quarter", "level", "area_code"], values="n")
        wide = areas.join(pivoted, on=["quarter", "level", "area_code"], how="left")
    wide = wide.with_columns(
        [
            pl.col(c).fill_null(0).cast(pl.Int64) if c in wide.columns else pl.lit(0, pl.Int64).alias(c)
            for c in columns
        ]
    ).select(*KEYS, "practices", *columns)
    return wide, bands, served


def _age_standardised(wide: pl.DataFrame, bands: pl.DataFrame) -> pl.DataFrame:
    """dsr_over, dsr_over_lower, dsr_over_upper (in %) per row of ``wide``, computed from the band
    counts **rounded to 10** (never from exact counts; docs/privacy.md), and shown only where the
    published registered and over_threshold of the row are shown."""
    n = wide.height
    events = np.zeros((n, 19), dtype=np.int64)
    population = np.zeros((n, 19), dtype=np.int64)
    index = {key: i for i, key in enumerate(wide.select("quarter", "level", "area_code").iter_rows())}
    for quarter, level, area, band, pop, ev in bands.select(
        "quarter", "level", "area_code", "band", "population", "events"
    ).iter_rows():
        i = index[(quarter, level, area)]
        population[i, band] = pop
        events[i, band] = ev
    rate, lower, upper = age_standardised_rate(round_band(events), round_band(population), per=100.0)
    ok = (
        wide.get_column("registered").is_not_null() & wide.get_column("over_threshold").is_not_null()
    ).to_numpy()
    return wide.with_columns(
        pl.Series("dsr_over", np.where(ok, rate, np.nan), dtype=pl.Float64).fill_nan(None),
        pl.Series("dsr_over_lower", np.where(ok, lower, np.nan), dtype=pl.Float64).fill_nan(None),
        pl.Series("dsr_over_upper", np.where(ok, upper, np.nan), dtype=pl.Float64).fill_nan(None),
    )


def _funnel_positions(wide: pl.DataFrame) -> pl.DataFrame:
    """funnel_95 / funnel_998 per practice: -1 below, 0 inside, +1 above the limits around the
    region's proportion of its quarter, all from the published (rounded) counts; none where one
    of them is hidden."""
    pos = {0.95: np.full(wide.height, np.nan), 0.998: np.full(wide.height, np.nan)}
    region = {
        q: (o, r)
        for q, o, r in wide.filter(pl.col("level") == "regio")
        .select("quarter", "over_threshold", "registered")
        .iter_rows()
    }
    level = wide.get_column("level").to_numpy()
    quarter = wide.get_column("quarter").to_numpy()
    over = wide.get_column("over_threshold").cast(pl.Float64).fill_null(np.nan).to_numpy()
    registered = wide.get_column("registered").cast(pl.Float64).fill_null(np.nan).to_numpy()
    for i in np.flatnonzero((level == "praktijk") & (registered > 0) & ~np.isnan(over)):
        o, r = region[quarter[i]]
        if o is None or r is None or not 0 < o < r:
            continue
        for confidence, out in pos.items():
            lower, upper = funnel_limits(o / r, registered[i], confidence)
            p = over[i] / registered[i]
            out[i] = FUNNEL_ABOVE if p > upper else FUNNEL_BELOW if p < lower else FUNNEL_INSIDE
    return wide.with_columns(
        pl.Series("funnel_95", pos[0.95]).fill_nan(None), pl.Series("funnel_998", pos[0.998]).fill_nan(None)
    )


def _rates(wide: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """Percentages, rates per 1,000 and Wilson intervals, from the published (rounded) counts
    only, and only where numerator and denominator are both shown (denominator > 0)."""
    new = []
    for name, rate in suppression_spec(profile)["rates"].items():
        num = wide.get_column(rate.numerator).cast(pl.Float64).fill_null(np.nan).to_numpy()
        den = wide.get_column(rate.denominator).cast(pl.Float64).fill_null(np.nan).to_numpy()
        ok = ~np.isnan(num) & ~np.isnan(den) & (np.nan_to_num(den) > 0)
        value = rate_if_shown(np.nan_to_num(num), np.nan_to_num(den), ok, ok, per=rate.per)
        new.append(pl.Series(name, value, dtype=pl.Float64).fill_nan(None))
        if rate.interval:
            lower, upper = wilson_interval(np.where(ok, num, 0.0), np.where(ok, den, 1.0))
            new.append(pl.Series(f"{name}_lower", np.where(ok, lower * rate.per, np.nan)).fill_nan(None))
            new.append(pl.Series(f"{name}_upper", np.where(ok, upper * rate.per, np.nan)).fill_nan(None))
    return wide.with_columns(new)


def suppression_spec(profile: Profile) -> dict:
    """The arguments of :func:`omu.dashboards.suppression.suppress_table` for the indicator table:
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


def _level_rank(level: str) -> int:
    return LEVELS.index(level)


#: all-or-nothing per wijk (see omu.dashboards.disclosure.Version.tied)
TIED = (("in_deprived_wijk", "registered"),)


def _earlier_versions(
    conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str
) -> dict[str, list[Version]]:
    """Every stored ledger version per quarter (oldest first), as :class:`Version` objects."""
    run_sql(conn, "dashboards/schema")
    variables = {**profile_variables(profile), "quarter": quarter}
    rows = query(conn, "dashboards/ledger_read", variables).pl()
    served = query(conn, "dashboards/served_read", variables).pl()
    return versions_from_ledger(rows, served, profile)


def versions_from_ledger(
    rows: pl.DataFrame, served: pl.DataFrame, profile: Profile
) -> dict[str, list[Version]]:
    """Ledger rows (quarter, version, level, area_code, indicator, exact, published) and served
    rows (quarter, version, practice_id, wijk_area) as :class:`Version` objects per quarter."""
    columns = person_count_columns(profile)
    col = {c: j for j, c in enumerate(columns)}
    out: dict[str, list[Version]] = {}
    for (q, version), frame in sorted(rows.group_by(["quarter", "version"]), key=lambda g: g[0]):
        areas = sorted(
            {(lv, a) for lv, a in frame.select("level", "area_code").iter_rows()},
            key=lambda k: (_level_rank(k[0]), k[1]),
        )
        row = {a: i for i, a in enumerate(areas)}
        exact = np.zeros((len(areas), len(columns)), dtype=np.int64)
        hidden = np.zeros((len(areas), len(columns)), dtype=bool)
        for lv, a, indicator, ex, pub in frame.select(
            "level", "area_code", "indicator", "exact", "published"
        ).iter_rows():
            if indicator in col:
                exact[row[(lv, a)], col[indicator]] = ex
                hidden[row[(lv, a)], col[indicator]] = pub is None
        pairs = sorted(
            served.filter((pl.col("quarter") == q) & (pl.col("version") == version))
            .select("practice_id", "wijk_area")
            .iter_rows()
        )
        out.setdefault(q, []).append(Version(areas, columns, exact, hidden, pairs, TIED))
    return out


def _protect(
    raw: pl.DataFrame,
    served: pl.DataFrame,
    earlier: dict[str, list[Version]],
    profile: Profile,
    recorded_at: dt.datetime,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """(raw with every person count replaced by its published value, new ledger rows, new served
    rows): per quarter, the latest version again when nothing changed, else a new version
    protected together with every earlier one (dashboards/disclosure.py)."""
    columns = person_count_columns(profile)
    relations = suppression_spec(profile)["column_totals"]
    raw = raw.sort(
        [
            pl.col("quarter"),
            pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, return_dtype=pl.Int32),
            pl.col("area_code"),
        ]
    )
    parts, ledger, served_new = [], [], []
    for (q,), sub in sorted(raw.group_by(["quarter"], maintain_order=True), key=lambda g: g[0]):
        areas = list(sub.select("level", "area_code").iter_rows())
        exact = sub.select(columns).to_numpy().astype(np.int64)
        pairs = sorted(served.filter(pl.col("quarter") == q).select("practice_id", "wijk_area").iter_rows())
        versions = earlier.get(q, [])
        latest = versions[-1] if versions else None
        if (
            latest is not None
            and latest.areas == areas
            and latest.served == pairs
            and np.array_equal(latest.exact, exact)
        ):
            current = latest  # nothing changed: the same figures, no new version
        else:
            current = Version(areas, columns, exact, np.zeros(exact.shape, dtype=bool), pairs, TIED)
            current.hidden = protect([*versions, current], relations)
            number = len(versions) + 1
            published = current.published()
            for a, (level, code) in enumerate(areas):
                for c, name in enumerate(columns):
                    ledger.append(
                        (
                            q,
                            number,
                            level,
                            code,
                            name,
                            int(exact[a, c]),
                            None if published[a, c] < 0 else int(published[a, c]),
                        )
                    )
            served_new += [(q, number, p, w) for p, w in pairs]
        published = current.published()
        parts.append(
            sub.with_columns(
                pl.Series(name, published[:, c], dtype=pl.Int64).scatter(
                    np.flatnonzero(published[:, c] < 0), None
                )
                for c, name in enumerate(columns)
            )
        )
    out = pl.concat(parts) if parts else raw
    ledger_frame = pl.DataFrame(
        ledger,
        schema={
            "quarter": pl.String,
            "version": pl.Int32,
            "level": pl.String,
            "area_code": pl.String,
            "indicator": pl.String,
            "exact": pl.Int64,
            "published": pl.Int64,
        },
        orient="row",
    )
    served_frame = pl.DataFrame(
        served_new,
        schema={"quarter": pl.String, "version": pl.Int32, "practice_id": pl.String, "wijk_area": pl.String},
        orient="row",
    )
    extra = [
        pl.lit(profile.name).alias("profile_name"),
        pl.lit(profile.version, pl.Int32).alias("profile_version"),
    ]
    return (
        out,
        ledger_frame.with_columns(*extra, pl.lit(recorded_at).alias("recorded_at")),
        served_frame.with_columns(*extra),
    )


def _compute(
    conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    delivered = delivered_quarters(conn, profile)
    if quarter not in delivered:
        known = ", ".join(delivered) or "none"
        raise NotDelivered(
            f"no practice delivered {quarter} under profile {profile.name} v{profile.version} "
            f"(delivered quarters: {known})"
        )
    raw, bands, served = _raw_counts(conn, profile, quarter)
    earlier = _earlier_versions(conn, profile, quarter)
    return publish(raw, bands, served, earlier, profile)


def publish(
    raw: pl.DataFrame,
    bands: pl.DataFrame,
    served: pl.DataFrame,
    earlier: dict[str, list[Version]],
    profile: Profile,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """From raw counts (wide: KEYS, practices, person counts), band counts and the practice/wijk
    pairs served, given the earlier ledger versions: (published wide frame, new ledger rows, new
    served rows).  The counts are protected first; every other figure is computed from them."""
    shown, ledger, served_new = _protect(
        raw, served, earlier, profile, dt.datetime.now().replace(microsecond=0)
    )
    shown = _funnel_positions(_age_standardised(_rates(shown, profile), bands))
    order = [i.key for i in catalogue(profile)]
    columns = list(KEYS)
    for key in order:
        columns.append(key)
        if f"{key}_lower" in shown.columns:
            columns += [f"{key}_lower", f"{key}_upper"]
    level_rank = pl.col("level").replace_strict({lv: i for i, lv in enumerate(LEVELS)}, return_dtype=pl.Int32)
    return shown.select(columns).sort(["quarter", level_rank, "area_code"]), ledger, served_new


# --------------------------------------------------------------------------------------------
# Storing and reading (the table holds suppressed figures only)
# --------------------------------------------------------------------------------------------


def to_long(wide: pl.DataFrame, profile: Profile, computed_at: dt.datetime) -> pl.DataFrame:
    parts = []
    for item in catalogue(profile):
        has_interval = f"{item.key}_lower" in wide.columns
        parts.append(
            wide.select(
                *KEYS,
                pl.lit(item.key).alias("indicator"),
                pl.lit(item.unit).alias("unit"),
                pl.col(item.key).cast(pl.Float64).alias("value"),
                (pl.col(f"{item.key}_lower") if has_interval else pl.lit(None))
                .cast(pl.Float64)
                .alias("lower"),
                (pl.col(f"{item.key}_upper") if has_interval else pl.lit(None))
                .cast(pl.Float64)
                .alias("upper"),
            )
        )
    return pl.concat(parts).with_columns(
        pl.lit(profile.name).alias("profile_name"),
        pl.lit(profile.version, pl.Int32).alias("profile_version"),
        pl.lit(computed_at).alias("computed_at"),
    )


def to_wide(long: pl.DataFrame, profile: Profile) -> pl.DataFrame:
    """The stored long rows back as the wide frame (catalogue order; missing indicators null)."""
    items = catalogue(profile)
    if long.is_empty():
        return pl.DataFrame(schema={**{k: pl.String for k in KEYS}, **{i.key: pl.Float64 for i in items}})
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
    """Compute, protect and store the indicators of every delivered quarter up to ``quarter``
    (replacing their earlier rows) and append the new disclosure-ledger versions, in one
    transaction. Returns the published wide frame."""
    wide, ledger, served = _compute(conn, profile, quarter)
    run_sql(conn, "dashboards/schema")
    long = to_long(wide, profile, dt.datetime.now().replace(microsecond=0))
    conn.register("indicators_new", long.to_arrow())
    conn.register("ledger_new", ledger.to_arrow())
    conn.register("served_new", served.to_arrow())
    try:
        run_sql_in_transaction(
            conn,
            ["dashboards/write", "dashboards/ledger_write"],
            {
                **profile_variables(profile),
                "quarters": sorted(set(wide.get_column("quarter").to_list())),
            },
        )
    finally:
        for name in ("indicators_new", "ledger_new", "served_new"):
            conn.unregister(name)
    return wide


def read_indicators(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> pl.DataFrame:
    """The stored (suppressed) indicators, wide, of every quarter up to ``quarter``."""
    run_sql(conn, "dashboards/schema")
    long = query(conn, "dashboards/read", {**profile_variables(profile), "quarter": quarter}).pl()
    return to_wide(long, profile)


# --------------------------------------------------------------------------------------------
# Checks on the stored result (asset checks; each can fail)
# --------------------------------------------------------------------------------------------


def derived_violations(wide: pl.DataFrame, profile: Profile) -> list[str]:
    """Rates and intervals that are not the function of the published counts they should be
    (a rate computed from an exact count would let a reader undo the rounding)."""
    expected = _rates(
        wide.select(
            [
                c
                for c in wide.columns
                if not any(
                    c == name or c.startswith(f"{name}_") for name in suppression_spec(profile)["rates"]
                )
            ]
        ),
        profile,
    )
    problems = []
    for name, rate in suppression_spec(profile)["rates"].items():
        for suffix in ("", "_lower", "_upper") if rate.interval else ("",):
            got = wide.get_column(name + suffix).cast(pl.Float64).fill_null(np.nan).to_numpy()
            want = expected.get_column(name + suffix).cast(pl.Float64).fill_null(np.nan).to_numpy()
            bad = ~np.isclose(got, want, rtol=0, atol=1e-9, equal_nan=True)
            problems += [
                f"{r['quarter']} {r['area_code']} {name}{suffix}"
                for r in wide.filter(pl.Series(bad)).select("quarter", "area_code").to_dicts()
            ]
    return problems


def ledger_violations(
    conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str, wide: pl.DataFrame
) -> list[str]:
    """What breaks the promises of the disclosure ledger for the stored figures up to ``quarter``:
    stored counts that are not the newest ledger version, a count hidden once and shown later,
    and anything the audit of all versions together can pin or confine to 1-7."""
    relations = suppression_spec(profile)["column_totals"]
    columns = person_count_columns(profile)
    problems = []
    ledger = _earlier_versions(conn, profile, quarter)
    for q, versions in ledger.items():
        newest = versions[-1]
        published = newest.published()
        stored = wide.filter(pl.col("quarter") == q)
        rows = {
            (lv, a): r
            for lv, a, r in zip(
                stored.get_column("level"),
                stored.get_column("area_code"),
                stored.select(columns).rows(),
                strict=True,
            )
        }
        for i, key in enumerate(newest.areas):
            for j, name in enumerate(columns):
                value = rows.get(key, [None] * len(columns))[j]
                if (None if published[i, j] < 0 else int(published[i, j])) != value:
                    problems.append(f"{q} {key[1]} {name}: stored figure is not the newest ledger version")
        for old, new in zip(versions, versions[1:], strict=False):
            index = {a: i for i, a in enumerate(new.areas)}
            for i, key in enumerate(old.areas):
                for j, name in enumerate(columns):
                    if old.hidden[i, j] and key in index and not new.hidden[index[key], j]:
                        problems.append(f"{q} {key[1]} {name}: hidden once, shown later")
        problems += [
            f"{q} version {t.version + 1}: a figure can be pinned or confined to 1-7"
            for t in audit(versions, relations)
        ]
    for q in sorted(set(wide.get_column("quarter").to_list())):
        if q not in ledger:
            problems.append(f"{q}: figures stored without a ledger version")
    return problems
