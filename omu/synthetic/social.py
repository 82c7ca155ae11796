"""Determinations (living situation, weight, blood pressure, a coded answer with non-ASCII letters) and routine
contacts (consult, visite, telefonisch, e-consult). Numbers documented in docs/synthetic-data.md."""

from __future__ import annotations

import numpy as np

from omu.quarters import Quarter
from omu.synthetic._util import DAYS_PER_YEAR, choose, day_number, poisson_days
from omu.synthetic.clinical import Cohort, Intervals, Rows
from omu.synthetic.population import death_rate

# Determination codes. 9001 and 9002 are LOCAL codes (see clinical/codelists/living_alone.csv); the numeric
# ones are illustrative NHG-Tabel 45-style numbers, not verified against the table.
LIVING_SITUATION = 9001
FALL_PREVENTION_TALK = 9002
WEIGHT = 357
SYSTOLIC = 1742
DIASTOLIC = 1743

# living situation states: 1 alleen, 2 samen, 3 met partner, 4 bij kinderen, 5 verzorgingshuis (0: not adult yet)
STATE_VALUES: dict[int, tuple[tuple[str, float], ...]] = {
    1: (("alleen", 0.60), ("Alleen", 0.28), ("ALLEEN", 0.10), ("alleen ", 0.02)),
    2: (("samen", 0.80), ("Samen", 0.20)),
    3: (("met partner", 0.85), ("Met partner", 0.15)),
    4: (("bij kinderen", 0.9), ("Bij kinderen", 0.1)),
    5: (("verzorgingshuis", 0.8), ("Verzorgingshuis", 0.2)),
}
INITIAL_AGES = np.array([18, 30, 55, 65, 75, 85])
INITIAL_STATE = np.array(
    [  # alleen, samen, met partner, bij kinderen, verzorgingshuis
        [0.30, 0.50, 0.20, 0.00, 0.00],
        [0.22, 0.45, 0.33, 0.00, 0.00],
        [0.22, 0.40, 0.38, 0.00, 0.00],
        [0.28, 0.36, 0.36, 0.00, 0.00],
        [0.37, 0.30, 0.29, 0.02, 0.02],
        [0.50, 0.15, 0.15, 0.07, 0.13],
    ]
)
RECORD_AGES = np.array([0, 55, 65, 75])
RECORD_PER_QUARTER = np.array([0.006, 0.02, 0.05, 0.12])  # routine (re)recording of the living situation
RECORD_AT_ENTRY = np.array([0.10, 0.25, 0.40, 0.60])  # first quarter a patient is on the list as an adult
RECORD_AFTER_CHANGE = 0.5  # extra, in the quarter of a change and the next one
FALL_TALK_VALUES = (
    ("geïnformeerd", 0.40),
    ("één keer", 0.25),
    ("niet gewenst", 0.20),
    ("reeds bekend", 0.15),
)
FALL_TALK_RATE, FALL_TALK_AGE = 0.15, 65

CONTACT_KINDS = ("consult", "telefonisch", "e-consult", "visite")
CONTACT_AGES = np.array([0, 5, 18, 45, 65, 75, 85])
CONTACT_RATES = np.array(
    [  # per year, by age band
        [2.5, 1.2, 1.6, 2.2, 2.8, 3.2, 3.2],
        [1.2, 0.6, 1.0, 1.5, 2.0, 2.8, 3.2],
        [0.2, 0.2, 0.8, 0.6, 0.35, 0.15, 0.05],
        [0.0, 0.0, 0.005, 0.01, 0.1, 0.6, 2.0],
    ]
)
CONTACT_CHRONIC = 0.15  # rate multiplier 1 + 0.15 per active chronic episode
CONTACT_DEPRIVATION = np.array([1.0, 1.05, 1.15])
CARDIOMETABOLIC = ("K86", "T90", "K74", "K76", "K77", "K78", "K90")


def _care_rate(age: np.ndarray) -> np.ndarray:
    return np.where(age >= 70, 0.004 * np.exp(0.12 * (age - 75)), 0.0)


def _values(rng: np.random.Generator, state: np.ndarray) -> np.ndarray:
    out = np.empty(state.size, dtype=object)
    for s, options in STATE_VALUES.items():
        rows = np.flatnonzero(state == s)
        texts = np.array([t for t, _ in options], dtype=object)
        out[rows] = texts[choose(rng, np.array([w for _, w in options]), rows.size)]
    return out


def living_situation(rng: np.random.Generator, cohort: Cohort, quarters: list[Quarter]) -> Rows:
    """A living-situation state per adult, changing over time (partner dies -> alone, moves in with children or
    into care), recorded as determination 9001 at some dates: at most one per patient per quarter."""
    n = cohort.n
    state = np.zeros(n, dtype=np.int64)
    recent = np.zeros(n, dtype=bool)
    parts = []
    for quarter in quarters:
        q_start, q_end = day_number(quarter.start), day_number(quarter.reference_date)
        lo = np.maximum(q_start, cohort.lower)
        hi = np.minimum(q_end + 1, cohort.upper)
        age = cohort.age_at(q_start)
        adult = (hi > lo) & (age >= 18)
        new = adult & (state == 0)
        band = np.searchsorted(INITIAL_AGES, age, side="right") - 1
        initial = choose(rng, INITIAL_STATE[np.maximum(band, 0)], n) + 1
        state = np.where(new, initial, state)

        rates = np.zeros((n, 6))
        couple = np.where(age < 35, 0.10, np.where(age < 55, 0.05, np.where(age < 75, 0.02, 0.005)))
        care = _care_rate(age)
        alone, together = state == 1, (state == 2) | (state == 3)
        rates[:, 2] = np.where(alone, couple / 2, 0.0)
        rates[:, 3] = np.where(alone, couple / 2, 0.0)
        rates[:, 4] = np.where(alone & (age >= 75), 0.01, 0.0)
        rates[:, 5] = np.where(alone | (state == 4), care, np.where(together, care / 2, 0.0))
        rates[:, 1] = np.where(together, 0.015 + death_rate(age), np.where(state == 4, 0.02, 0.0))
        total = rates.sum(axis=1)
        changes = adult & ~new & (rng.random(n) < 1 - np.exp(-total * 0.25))
        target = choose(rng, np.where(total[:, None] > 0, rates, 1.0), n)
        state = np.where(changes, target, state)

        record_band = np.searchsorted(RECORD_AGES, age, side="right") - 1
        p = RECORD_PER_QUARTER[record_band] + np.where(new, RECORD_AT_ENTRY[record_band], 0.0)
        p = p + np.where(changes | recent, RECORD_AFTER_CHANGE, 0.0)
        recent = changes
        record = np.flatnonzero(adult & (rng.random(n) < p))
        day = lo[record] + np.floor(rng.random(record.size) * (hi - lo)[record]).astype(np.int64)
        parts.append(
            Rows(
                {
                    "patient": record,
                    "code": np.full(record.size, LIVING_SITUATION),
                    "day": day,
                    "value": _values(rng, state[record]),
                }
            )
        )
    return Rows.concat(parts, ("patient", "code", "day", "value"))


def _format_decimal(values: np.ndarray) -> np.ndarray:
    return np.char.mod("%.1f", values).astype(object)


def measurements(rng: np.random.Generator, cohort: Cohort, intervals: dict[str, Intervals]) -> Rows:
    """Blood pressure (1742/1743, integers, same date) and weight (357, one decimal), more often in chronic
    care (from the first cardiometabolic episode on); the coded answer 9002 for patients aged 65 and over."""
    n = cohort.n
    onset = np.full(n, np.iinfo(np.int64).max // 4, dtype=np.int64)
    for key in CARDIOMETABOLIC:
        found = intervals[key]
        np.minimum.at(onset, found.patient, found.start)
    adult_from = np.maximum(cohort.lower, cohort.birth + int(18 * DAYS_PER_YEAR))
    split = np.clip(onset, adult_from, np.maximum(cohort.upper, adult_from))
    diabetic = np.zeros(n, dtype=bool)
    diabetic[intervals["T90"].patient] = True
    parts = []

    # blood pressure
    owner_a, day_a = poisson_days(rng, adult_from, split, 0.3)
    owner_b, day_b = poisson_days(rng, split, cohort.upper, 2.5)
    owner = np.concatenate([owner_a, owner_b])
    day = np.concatenate([day_a, day_b])
    chronic = np.concatenate([np.zeros(owner_a.size, bool), np.ones(owner_b.size, bool)])
    age = cohort.age_at(day, owner)
    systolic = np.clip(np.round(rng.normal(126 + 0.35 * np.maximum(age - 45, 0) + 8 * chronic, 14)), 90, 220)
    diastolic = np.clip(np.round(rng.normal(80, 9, owner.size)), 50, np.maximum(systolic - 20, 50))
    for code, values in ((SYSTOLIC, systolic), (DIASTOLIC, diastolic)):
        parts.append(
            Rows(
                {
                    "patient": owner,
                    "code": np.full(owner.size, code),
                    "day": day,
                    "value": values.astype(np.int64).astype(str).astype(object),
                }
            )
        )

    # weight: a per-patient level plus noise
    level = np.clip(rng.normal(np.where(cohort.sex == 0, 84.0, 71.0), 13.0), 42, 160)
    weight_split = np.where(diabetic, split, cohort.upper)
    owner_a, day_a = poisson_days(rng, adult_from, weight_split, 0.2)
    owner_b, day_b = poisson_days(rng, weight_split, cohort.upper, 2.0)
    owner = np.concatenate([owner_a, owner_b])
    day = np.concatenate([day_a, day_b])
    weight = np.round(level[owner] + rng.normal(0, 1.5, owner.size), 1)
    parts.append(
        Rows(
            {
                "patient": owner,
                "code": np.full(owner.size, WEIGHT),
                "day": day,
                "value": _format_decimal(weight),
            }
        )
    )

    # a coded answer with non-ASCII letters (illustrative local code 9002: fall-prevention talk)
    older_from = np.maximum(cohort.lower, cohort.birth + int(FALL_TALK_AGE * DAYS_PER_YEAR))
    owner, day = poisson_days(rng, older_from, cohort.upper, FALL_TALK_RATE)
    texts = np.array([t for t, _ in FALL_TALK_VALUES], dtype=object)
    parts.append(
        Rows(
            {
                "patient": owner,
                "code": np.full(owner.size, FALL_PREVENTION_TALK),
                "day": day,
                "value": texts[choose(rng, np.array([w for _, w in FALL_TALK_VALUES]), owner.size)],
            }
        )
    )
    return Rows.concat(parts, ("patient", "code", "day", "value"))


def contacts(
    rng: np.random.Generator,
    cohort: Cohort,
    quarters: list[Quarter],
    intervals: dict[str, Intervals],
    chronic_keys: tuple[str, ...],
    end: int,
) -> Rows:
    """Routine contacts per quarter (only up to `end`, exclusive: nothing after the last extraction is needed)."""
    parts = []
    sex_factor = np.where(cohort.sex == 0, 0.9, 1.1)
    deprivation = CONTACT_DEPRIVATION[cohort.deprivation]
    for quarter in quarters:
        q_start, q_end = day_number(quarter.start), day_number(quarter.reference_date)
        if q_start >= end:
            break
        lo = np.maximum(q_start, cohort.lower)
        hi = np.minimum(np.minimum(q_end + 1, cohort.upper), end)
        age = cohort.age_at(q_start)
        chronic = np.zeros(cohort.n)
        for key in chronic_keys:
            found = intervals[key]
            active = (found.start <= q_start) & (found.end > q_start)
            chronic += np.bincount(found.patient[active], minlength=cohort.n)
        band = np.maximum(np.searchsorted(CONTACT_AGES, age, side="right") - 1, 0)
        multiplier = (1 + CONTACT_CHRONIC * chronic) * deprivation * sex_factor
        young_women = (cohort.sex == 1) & (age >= 18) & (age < 45)
        for kind_index, kind in enumerate(CONTACT_KINDS):
            rate = CONTACT_RATES[kind_index][band] * multiplier
            if kind == "consult":
                rate = rate * np.where(young_women, 1.4, 1.0)
            owner, day = poisson_days(rng, lo, hi, rate)
            parts.append(
                Rows({"patient": owner, "day": day, "kind": np.full(owner.size, kind, dtype=object)})
            )
    return Rows.concat(parts, ("patient", "day", "kind"))
