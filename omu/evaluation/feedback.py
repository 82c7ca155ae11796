"""The feedback report of one practice and quarter: its own exact figures (sql/evaluation/feedback.sql),
the trend over its delivered quarters, and its place beside the region's published (suppressed)
figures from table `indicators`. Written as printable Dutch HTML into the practice's own folder.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from markupsafe import Markup

from omu.dashboards.indicators import REFERRAL_LABELS
from omu.file_writing import write_text_atomically
from omu.outreach.lists import REFERRAL_TARGETS, prepare_outreach_store
from omu.reference import outcome_words
from omu.render import render
from omu.screening.profile import Profile
from omu.sql import query, run_sql

FEEDBACK_HTML = "feedback.html"
KRACHTIGE_BASISZORG_SHARE = 0.25  # more than a quarter of the practice's patients in a deprived wijk

# the data-key of each row of the page's fixed tables, in their order
OVERVIEW_KEYS = ["screened", "over_threshold", "first_time", "baseline"]
FUNNEL_KEYS = [
    "asked",
    "listed",
    "backlog",
    "attempted",
    "reached",
    "not_reached",
    "declined",
    "already_in_care",
    "referred",
    "arrived",
    "not_arrived",
    "arrival_unknown",
    "no_outcome",
]
# the counts sql/evaluation/feedback.sql computes per quarter
COUNT_COLUMNS = (*OVERVIEW_KEYS, "in_deprived_wijk", *FUNNEL_KEYS, "contacted_in_quarter")
WORKLOAD_KEYS = ["capacity", "asked", "listed", "backlog", "contacted_in_quarter", "median_days_to_contact"]


@dataclass
class PracticeFeedback:
    practice_id: str
    quarter: str
    profile: Profile
    capacity: int | None
    quarters: (
        pl.DataFrame
    )  # one row per delivered quarter up to `quarter`, COUNT_COLUMNS + median_days_to_contact
    characteristics: pl.DataFrame  # quarter, characteristic, first_time
    referrals: pl.DataFrame  # quarter, referral_target, referred, arrived
    region: dict[str, tuple[float | None, float | None, float | None]]  # indicator -> (value, lower, upper)

    @property
    def current(self) -> dict:
        rows = self.quarters.filter(pl.col("quarter") == self.quarter).to_dicts()
        return rows[0] if rows else {c: 0 for c in COUNT_COLUMNS} | {"median_days_to_contact": None}

    @property
    def deprived_share(self) -> float | None:
        c = self.current
        return c["in_deprived_wijk"] / c["screened"] if c["screened"] else None

    @property
    def krachtige_basiszorg(self) -> bool:
        share = self.deprived_share
        return share is not None and share > KRACHTIGE_BASISZORG_SHARE


def compute_feedback(
    conn: duckdb.DuckDBPyConnection, profile: Profile, *, practice_id: str, quarter: str, capacity: int | None
) -> PracticeFeedback:
    prepare_outreach_store(conn, profile)
    run_sql(conn, "evaluation/schema")
    run_sql(
        conn,
        "evaluation/feedback",
        {
            "practice_id": practice_id,
            "quarter": quarter,
            "profile_name": profile.name,
            "profile_version": profile.version,
            "characteristic_ids": [c.id for c in profile.scored],
        },
    )
    quarters = conn.sql("SELECT * FROM fb_quarters ORDER BY quarter").pl()
    quarters = quarters.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in COUNT_COLUMNS)
    characteristics = conn.sql(
        "SELECT * FROM fb_first_time_characteristics ORDER BY quarter, characteristic"
    ).pl()
    referrals = conn.sql("SELECT * FROM fb_referrals ORDER BY quarter, referral_target").pl()
    run_sql(conn, "dashboards/schema")  # before the first region step the table is empty
    region = {
        indicator: (value, lower, upper)
        for indicator, value, lower, upper in query(
            conn,
            "evaluation/region_published",
            {"quarter": quarter, "profile_name": profile.name, "profile_version": profile.version},
        ).fetchall()
    }
    return PracticeFeedback(
        practice_id, quarter, profile, capacity, quarters, characteristics, referrals, region
    )


# --------------------------------------------------------------------------------------------
# The printable page (Dutch)
# --------------------------------------------------------------------------------------------


def _pct(numerator: int, denominator: int) -> str:
    return f"{100 * numerator / denominator:.1f}%".replace(".", ",") if denominator else "–"


def _num(value: float | None, unit: str) -> str:
    if value is None:
        return "niet getoond"
    text = f"{value:.1f}".replace(".", ",")
    return f"{text}%" if unit == "%" else text


def _region_cell(fb: PracticeFeedback, indicator: str, unit: str) -> str:
    if indicator not in fb.region:
        return "nog niet beschikbaar"
    value, lower, upper = fb.region[indicator]
    if value is None:
        return "niet getoond (kleine aantallen)"
    interval = (
        f" ({_num(lower, unit)} – {_num(upper, unit)})" if lower is not None and upper is not None else ""
    )
    return _num(value, unit) + interval


def render_feedback(fb: PracticeFeedback) -> str:
    profile = fb.profile
    c = fb.current
    labels = {ch.id: ch.label for ch in profile.scored}

    share = fb.deprived_share
    if share is None:
        kbz = "Er zijn dit kwartaal geen gescreende patiënten, dus het criterium kan niet worden beoordeeld."
    else:
        verdict = (
            Markup("meer dan een kwart: de praktijk <strong>voldoet</strong> aan het criterium")
            if fb.krachtige_basiszorg
            else Markup(
                "niet meer dan een kwart: de praktijk <strong>voldoet niet</strong> aan het criterium"
            )
        )
        kbz = Markup(
            "{} van de {} ingeschreven patiënten ({}) wonen in een wijk met hoge achterstand. Dat is {} van "
            "Krachtige basiszorg (meer dan 25% van de patiënten in een achterstandswijk)."
        ).format(c["in_deprived_wijk"], c["screened"], _pct(c["in_deprived_wijk"], c["screened"]), verdict)

    first_rows = fb.characteristics.filter(pl.col("quarter") == fb.quarter)
    first_by = dict(
        zip(first_rows["characteristic"].to_list(), first_rows["first_time"].to_list(), strict=True)
    )
    char_rows = [
        [labels[ch.id], first_by.get(ch.id, 0), _pct(first_by.get(ch.id, 0), c["first_time"])]
        for ch in profile.scored
    ]

    funnel_rows = [
        ["Gevraagd (kandidaten voor de belijst)", c["asked"]],
        ["Op de belijst (binnen de capaciteit)", c["listed"]],
        ["Doorgeschoven naar volgend kwartaal (achterstand)", c["backlog"]],
        ["Uitkomst teruggemeld (poging gedaan)", c["attempted"]],
        [f"Bereikt ({outcome_words(reached=True)})", c["reached"]],
        ["Niet bereikt", c["not_reached"]],
        ["Afgezien (patiënt wil niet)", c["declined"]],
        ["Al in zorg", c["already_in_care"]],
        ["Verwezen", c["referred"]],
        ["Verwijzing aangekomen", c["arrived"]],
        ["Verwijzing niet aangekomen", c["not_arrived"]],
        ["Verwijzing: aankomst nog onbekend", c["arrival_unknown"]],
        ["Uitkomst nog niet teruggemeld", c["no_outcome"]],
    ]
    ref_now = fb.referrals.filter(pl.col("quarter") == fb.quarter)
    ref_by = {t: (n, a) for t, n, a in ref_now.select("referral_target", "referred", "arrived").iter_rows()}
    referral_rows = [
        [REFERRAL_LABELS[t], ref_by.get(t, (0, 0))[0], ref_by.get(t, (0, 0))[1]]
        for t in REFERRAL_TARGETS
        if t in ref_by
    ]
    referral_keys = [t for t in REFERRAL_TARGETS if t in ref_by]

    capacity = "geen grens ingesteld" if fb.capacity is None else str(fb.capacity)
    days = c["median_days_to_contact"]
    workload_rows = [
        ["Capaciteit per kwartaal (config.yaml)", capacity],
        ["Gevraagde belletjes (kandidaten)", c["asked"]],
        ["Op de belijst", c["listed"]],
        ["Achterstand: doorgeschoven naar volgend kwartaal", c["backlog"]],
        [
            "Gecontacteerd binnen het werkkwartaal",
            f"{c['contacted_in_quarter']} ({_pct(c['contacted_in_quarter'], c['listed'])} van de belijst)",
        ],
        ["Mediane tijd van lijst tot contact", "–" if days is None else f"{days:.0f} dagen"],
    ]

    trend_rows = [
        [
            r["quarter"],
            r["screened"],
            r["over_threshold"],
            _pct(r["over_threshold"], r["screened"]),
            r["first_time"],
            r["listed"],
            r["backlog"],
            r["reached"],
            r["referred"],
            r["arrived"],
            r["no_outcome"],
        ]
        for r in fb.quarters.iter_rows(named=True)
    ]
    trend_head = [
        "Kwartaal",
        "Gescreend",
        "Op/boven drempel",
        "%",
        "Eerste keer",
        "Belijst",
        "Doorgeschoven",
        "Bereikt",
        "Verwezen",
        "Aangekomen",
        "Geen uitkomst",
    ]

    funnel_steps = ("first_time", "listed", "attempted", "reached", "referred", "arrived")
    funnel_rows_by_quarter = [
        [
            r["quarter"],
            *(r[k] for k in funnel_steps),
            "–" if r["median_days_to_contact"] is None else f"{r['median_days_to_contact']:.0f}",
        ]
        for r in fb.quarters.iter_rows(named=True)
    ]
    funnel_rows_by_quarter.append(["Cumulatief", *(int(fb.quarters[k].sum()) for k in funnel_steps), "–"])
    steps_head = [
        "Kwartaal van de lijst",
        "Eerste keer boven drempel",
        "Op de belijst",
        "Poging teruggemeld",
        "Bereikt",
        "Verwezen",
        "Aangekomen",
        "Mediane dagen tot contact",
    ]

    compare = [
        ("Op/boven drempel (%)", _pct(c["over_threshold"], c["screened"]), "pct_over", "%"),
        (
            "Eerste keer boven drempel per 1.000",
            f"{1000 * c['first_time'] / c['screened']:.1f}".replace(".", ",") if c["screened"] else "–",
            "first_time_per_1000",
            "per 1.000",
        ),
        (
            "Wonend in wijk met hoge achterstand (%)",
            _pct(c["in_deprived_wijk"], c["screened"]),
            "pct_in_deprived_wijk",
            "%",
        ),
        ("Bereikt (% van belijst)", _pct(c["reached"], c["listed"]), "pct_reached", "%"),
        ("Verwezen (% van belijst)", _pct(c["referred"], c["listed"]), "pct_referred", "%"),
    ]
    compare_rows = [[label, own, _region_cell(fb, key, unit)] for label, own, key, unit in compare]

    overview_rows = [
        ["Gescreende (ingeschreven) patiënten", c["screened"]],
        [
            f"Op of boven de drempel ({profile.threshold} punten)",
            f"{c['over_threshold']} ({_pct(c['over_threshold'], c['screened'])})",
        ],
        ["Eerste keer boven de drempel", c["first_time"]],
        ["Startlijst (al eerder boven de drempel, eerste levering)", c["baseline"]],
    ]
    quarters = fb.quarters["quarter"].to_list()
    return render(
        "omu.evaluation",
        "feedback.html.j2",
        practice_id=fb.practice_id,
        quarter=fb.quarter,
        profile=profile,
        made_on=f"{dt.date.today():%d-%m-%Y}",
        krachtige_basiszorg=kbz,
        overview={"rows": overview_rows, "keys": OVERVIEW_KEYS},
        characteristics={"rows": char_rows, "keys": [ch.id for ch in profile.scored]},
        funnel={"rows": funnel_rows, "keys": FUNNEL_KEYS},
        referrals={"rows": referral_rows, "keys": referral_keys},
        workload={"rows": workload_rows, "keys": WORKLOAD_KEYS},
        trend={"head": trend_head, "rows": trend_rows, "keys": quarters},
        steps={"head": steps_head, "rows": funnel_rows_by_quarter, "keys": [*quarters, "cumulatief"]},
        compare={
            "head": ["Kengetal", f"Praktijk {fb.practice_id} (exact)", "Regio (gepubliceerd, 95%-interval)"],
            "rows": compare_rows,
            "keys": [key for _, _, key, _ in compare],
        },
    )


def write_feedback(folder: Path, fb: PracticeFeedback) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / FEEDBACK_HTML
    write_text_atomically(path, render_feedback(fb))
    return path
