"""The hidden outcome: unplanned care (an out-of-hours contact or a fall injury), drawn from a documented
piecewise-constant hazard per quarter. docs/synthetic-data.md, "The hidden outcome", states the model exactly.

For patient i and quarter j (days S_j.start .. S_j.end):
    lambda_ij = exp(linear_predictor(state of i observed on S_j.start - 1 day))      (events per year)
    N_ij ~ Poisson(lambda_ij * registered_days_ij / 365.25), placed at uniform registered days of the quarter.
The 12-month probability at reference date R = S_k.end is 1 - exp(-sum_{j=k+1..k+4} lambda_ij * d_ij / 365.25),
with d_ij the registered days of quarter j inside (R, R + 365].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omu.synthetic._util import DAYS_PER_YEAR, NO_END, choose, expand

INTERCEPT = -2.78
AGE_PIVOT, AGE_SLOPE = 40.0, 0.012  # per year of age, all ages
OLD_PIVOT, OLD_SLOPE = 75.0, 0.03  # extra per year of age above 75
CHILD_AGE, CHILD_EFFECT = 5.0, 0.5  # out-of-hours care for young children: +0.5 at age 0, fading by age 5
FEMALE = 0.10
FLAG_WEIGHTS = {
    "older_than_55": 0.05,
    "lives_alone": 0.35,
    "visual_impairment": 0.40,
    "hearing_impairment": 0.10,
    "beta_blocker": 0.05,
    "saba_only_asthma": 0.60,
}
DEPRIVATION = np.array([0.0, 0.20, 0.45])  # laag, midden, hoog
CHRONIC, CHRONIC_CAP = 0.15, 8  # per active chronic episode
MEDICINES, MEDICINES_CAP = 0.06, 15  # per distinct ATC code in the past 365 days

FALL_SHARE_BASE, FALL_SHARE_SLOPE = 0.20, 0.40  # P(fall) = 0.20 + 0.40 * clip((age - 55) / 35, 0, 1)
FALL_ALSO_OUT_OF_HOURS = 0.35  # a fall that is also seen at the huisartsenpost (same date)
FALL_CODE_WEIGHTS = {
    "S16": 0.35,
    "A80": 0.20,
    "L76": 0.14,
    "L72": 0.10,
    "L75": 0.08,
    "N79": 0.07,
    "L73": 0.06,
}
FALL_EPISODE_DAYS = (30, 120)  # end_date = start_date + 30..120 days ("1-4 months")


def linear_predictor(
    age: np.ndarray,
    female: np.ndarray,
    flags: dict[str, np.ndarray],
    deprivation: np.ndarray,
    n_chronic: np.ndarray,
    n_medicines: np.ndarray,
) -> np.ndarray:
    """log(events per year) for arrays of the same shape (deprivation as 0/1/2)."""
    age = np.asarray(age, dtype=float)
    lp = (
        INTERCEPT
        + AGE_SLOPE * (age - AGE_PIVOT)
        + OLD_SLOPE * np.maximum(age - OLD_PIVOT, 0.0)
        + CHILD_EFFECT * np.clip(1 - age / CHILD_AGE, 0.0, 1.0)
        + FEMALE * female
        + DEPRIVATION[deprivation]
        + CHRONIC * np.minimum(n_chronic, CHRONIC_CAP)
        + MEDICINES * np.minimum(n_medicines, MEDICINES_CAP)
    )
    for name, weight in FLAG_WEIGHTS.items():
        lp = lp + weight * flags[name]
    return lp


@dataclass
class OutcomeSimulation:
    rate: np.ndarray  # (n, quarters) events per year
    registered_days: np.ndarray  # (n, quarters)
    event_patient: np.ndarray
    event_day: np.ndarray
    event_quarter: np.ndarray


def registered_days(
    registered_from: np.ndarray, until: np.ndarray, first: np.ndarray, last: np.ndarray
) -> np.ndarray:
    """(n, q) number of days d in [first_j, last_j] (inclusive) with registered_from <= d < until."""
    lo = np.maximum(first[None, :], registered_from[:, None])
    hi = np.minimum(last[None, :] + 1, until[:, None])
    return np.maximum(hi - lo, 0)


def simulate(
    rng: np.random.Generator,
    lp: np.ndarray,
    registered_from: np.ndarray,
    until: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
) -> OutcomeSimulation:
    """lp: (n, q) linear predictor for each simulated quarter (state at the previous quarter's end)."""
    rate = np.exp(lp)
    days = registered_days(registered_from, until, starts, ends)
    counts = rng.poisson(rate * days / DAYS_PER_YEAR)
    flat_owner, _ = expand(counts.ravel())
    patient, quarter = np.divmod(flat_owner, counts.shape[1])
    lo = np.maximum(starts[quarter], registered_from[patient])
    day = lo + np.floor(rng.random(patient.size) * days[patient, quarter]).astype(np.int64)
    return OutcomeSimulation(rate, days, patient, day, quarter)


def probability_12m(
    sim: OutcomeSimulation,
    registered_from: np.ndarray,
    until: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    k: int,
) -> np.ndarray:
    """P(outcome in (R, R + 365]) for R = ends[k], from the 4 quarters after it (last one clipped at R + 365)."""
    reference = ends[k]
    total = np.zeros(sim.rate.shape[0])
    for j in range(k + 1, k + 5):
        last = min(ends[j], reference + 365)
        days = registered_days(registered_from, until, starts[j : j + 1], np.array([last]))[:, 0]
        total += sim.rate[:, j] * days / DAYS_PER_YEAR
    return 1.0 - np.exp(-total)


def happened_12m(sim: OutcomeSimulation, n: int, reference: int) -> np.ndarray:
    inside = (sim.event_day > reference) & (sim.event_day <= reference + 365)
    return np.bincount(sim.event_patient[inside], minlength=n) > 0


def outcome_rows(
    rng: np.random.Generator,
    sim: OutcomeSimulation,
    age: np.ndarray,
    until: np.ndarray,
    fall_codes: tuple[str, ...],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Fall-injury episodes and huisartsenpost contacts for the simulated events. age: per event (years)."""
    m = sim.event_patient.size
    fall = rng.random(m) < FALL_SHARE_BASE + FALL_SHARE_SLOPE * np.clip((age - 55) / 35, 0, 1)
    codes = np.array(fall_codes)
    weights = np.array([FALL_CODE_WEIGHTS.get(c, 0.05) for c in fall_codes])
    code = codes[choose(rng, weights, m)]
    end = sim.event_day + rng.integers(FALL_EPISODE_DAYS[0], FALL_EPISODE_DAYS[1] + 1, m)
    end = np.where(end >= until[sim.event_patient], NO_END, end)
    episodes = {
        "patient": sim.event_patient[fall],
        "icpc": code[fall],
        "start": sim.event_day[fall],
        "end": end[fall],
    }
    contact = ~fall | (rng.random(m) < FALL_ALSO_OUT_OF_HOURS)
    contacts = {
        "patient": sim.event_patient[contact],
        "day": sim.event_day[contact],
        "kind": np.full(int(contact.sum()), "huisartsenpost", dtype=object),
    }
    return episodes, contacts
