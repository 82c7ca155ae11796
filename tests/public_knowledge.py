"""What an attacker of the published regional files knows in public: the csv headers, how the
figures relate and the rates they carry, restated from docs/dashboards.md (not taken from the
suppression code). Shared by the disclosure tests and the attack on a real dashboard run."""

from __future__ import annotations

import csv

from attacker import Knowledge, RateSpec

from omu.dashboards.indicator_files import columns as file_columns
from omu.dashboards.indicators import person_count_columns
from omu.outreach.lists import REFERRAL_TARGETS
from omu.reference import WIJKEN_FILE
from omu.screening.profile import DEFAULT_PROFILE, load_profile

PROFILE = load_profile(DEFAULT_PROFILE)
COUNTS = person_count_columns(PROFILE)
CHARS = [c.id for c in PROFILE.scored]
with WIJKEN_FILE.open(encoding="utf-8") as f:
    WIJK_ROWS = list(csv.DictReader(f))
DEPRIVED = {r["wijk_code"] for r in WIJK_ROWS if r["deprivation_group"] == "hoog"}
WIJKEN = [r["wijk_code"] for r in WIJK_ROWS]
QUARTER = "2026Q3"
OUTREACH = [
    "listed",
    "reached",
    "not_reached",
    "already_in_care",
    "referred",
    *[f"referred_to:{t}" for t in REFERRAL_TARGETS],
]


# --------------------------------------------------------------------------------------------
# Public knowledge, by header (restated here from docs/dashboards.md, not taken from the code)
# --------------------------------------------------------------------------------------------

HEADER = {key: header for key, header, _ in file_columns(PROFILE)}


def knowledge() -> Knowledge:
    h = HEADER
    relations = [
        ("registered", ["over_threshold"]),
        ("over_threshold", ["first_time", "baseline"]),
        *[("registered", [f"char_n:{c}"]) for c in CHARS],
        ("registered", ["in_deprived_wijk"]),
        ("registered", ["listed"]),
        ("listed", ["reached", "not_reached", "already_in_care"]),
        ("reached", ["referred"]),
        ("referred", [f"referred_to:{t}" for t in REFERRAL_TARGETS]),
    ]
    rates = [
        RateSpec(
            h["pct_over"], h["over_threshold"], h["registered"], 100, h["pct_over_lower"], h["pct_over_upper"]
        ),
        RateSpec(
            h["first_time_per_1000"],
            h["first_time"],
            h["registered"],
            1000,
            h["first_time_per_1000_lower"],
            h["first_time_per_1000_upper"],
        ),
        *[RateSpec(h[f"char_pct:{c}"], h[f"char_n:{c}"], h["registered"], 100) for c in CHARS],
        RateSpec(h["pct_in_deprived_wijk"], h["in_deprived_wijk"], h["registered"], 100),
        RateSpec(
            h["pct_reached"], h["reached"], h["listed"], 100, h["pct_reached_lower"], h["pct_reached_upper"]
        ),
        RateSpec(
            h["pct_referred"],
            h["referred"],
            h["listed"],
            100,
            h["pct_referred_lower"],
            h["pct_referred_upper"],
        ),
    ]
    return Knowledge(
        quarter=h["quarter"],
        level=h["level"],
        code=h["area_code"],
        practices=h["practices"],
        counts=[h[c] for c in COUNTS],
        registered=h["registered"],
        relations=[(h[t], [h[p] for p in ps]) for t, ps in relations],
        late={h[c] for c in OUTREACH},
        tied=(h["in_deprived_wijk"], h["registered"]),
        deprived_wijken=DEPRIVED,
        rates=rates,
        funnel={h["funnel_95"]: 0.95, h["funnel_998"]: 0.998},
        over=h["over_threshold"],
    )


KNOWLEDGE = knowledge()
