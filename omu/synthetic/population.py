"""The registered population of one practice through time: initial list, births, moving in, moving away, deaths.

All rates are per year; every number here is documented in docs/synthetic-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from omu.quarters import Quarter
from omu.synthetic._util import DAY_1900, DAYS_PER_YEAR, NO_END, choose, day_number
from omu.synthetic.reference import Wijk

# The city's age pyramid by 5-year band (0-4, 5-9, ..., 100-104), percent; Utrecht is a young city.
BASE_AGE_WEIGHTS = np.array(
    [
        6.0,
        5.5,
        5.0,
        5.5,
        10.5,
        11.0,
        9.0,
        7.5,
        6.5,
        6.0,
        5.8,
        5.2,
        4.5,
        3.8,
        3.3,
        2.6,
        1.6,
        0.9,
        0.4,
        0.12,
        0.02,
    ]
)
BAND_GROUP = np.array(
    [0, 0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4]
)  # 0-14,15-29,30-54,55-74,75+
# People moving into a practice are mostly young adults.
MOVER_FACTORS = np.array(
    [0.8, 0.8, 0.8, 1.0, 2.5, 2.5, 2.5, 1.3, 1.3, 0.6, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
)

SEX_WEIGHTS = np.array([0.497, 0.500, 0.003])  # M, V, O
SEX_CODES = np.array(["M", "V", "O"])
HOME_SHARE, NEIGHBOUR_SHARE = 0.80, 0.13  # the rest (7%) lives anywhere in the city, by wijk population
BIRTH_RATE = 0.011  # births per registered patient per year, times the wijk's children factor
OTHER_EXIT_RATE = 0.006  # 'overig': changing practice for other reasons
MOVE_AGES = np.array([0, 5, 18, 25, 35, 45, 65, 80])
MOVE_RATES = np.array([0.08, 0.05, 0.16, 0.13, 0.07, 0.04, 0.025, 0.03])
DEATH_DEPRIVATION = np.array([1.0, 1.05, 1.15])  # laag, midden, hoog
END_REASONS = np.array(["", "verhuisd", "overleden", "overig"])
BIRTH_MONTH_KNOWN = 0.90
PC4_MISSING = 0.04
OVERSUPPLY = 1.25  # initial list relative to the target; thinned to the exact target at the first quarter


def death_rate(age: np.ndarray) -> np.ndarray:
    """Gompertz mortality per year: about 0.1% at 40, 0.8% at 60, 5% at 80, 12% at 90."""
    return np.minimum(np.exp(-10.3 + 0.0915 * np.asarray(age, dtype=float)), 0.9)


def move_rate(age: np.ndarray) -> np.ndarray:
    return MOVE_RATES[np.searchsorted(MOVE_AGES, np.asarray(age, dtype=float), side="right") - 1]


@dataclass
class Population:
    birth: np.ndarray  # day number of birth (internal; only year and maybe month are written)
    sex: np.ndarray  # 0 M, 1 V, 2 O
    wijk: np.ndarray  # index into the wijken tuple
    registered_from: np.ndarray
    until: np.ndarray  # exclusive end of registration; NO_END when still registered at the end
    end_reason: np.ndarray  # 0 none, 1 verhuisd, 2 overleden, 3 overig

    @property
    def n(self) -> int:
        return self.birth.size

    def take(self, index: np.ndarray) -> Population:
        return Population(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    @staticmethod
    def concat(parts: list[Population]) -> Population:
        return Population(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Population)}
        )


def age_band_weights(wijken: tuple[Wijk, ...], movers: bool = False) -> np.ndarray:
    """(wijken, bands) weights: the city pyramid tilted by each wijk's age factors."""
    factors = np.array([w.age_factors for w in wijken])[:, BAND_GROUP]
    weights = BASE_AGE_WEIGHTS[None, :] * factors
    if movers:
        weights = weights * MOVER_FACTORS[None, :]
    return weights / weights.sum(axis=1, keepdims=True)


def residence_weights(wijken: tuple[Wijk, ...], home: int) -> np.ndarray:
    """Where a practice's patients live: 80% its own wijk, 13% neighbouring wijken, 7% anywhere (by population)."""
    codes = [w.code for w in wijken]
    population = np.array([w.population for w in wijken])
    weights = (1 - HOME_SHARE - NEIGHBOUR_SHARE) * population / population.sum()
    neighbours = [codes.index(c) for c in wijken[home].neighbours if c in codes]
    if neighbours:
        weights[neighbours] += NEIGHBOUR_SHARE / len(neighbours)
        weights[home] += HOME_SHARE
    else:
        weights[home] += HOME_SHARE + NEIGHBOUR_SHARE
    return weights / weights.sum()


def _people(
    rng: np.random.Generator, wijken: tuple[Wijk, ...], residence: np.ndarray, bands: np.ndarray, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sex, residential wijk and age in years for n new people."""
    sex = choose(rng, SEX_WEIGHTS, n)
    wijk = choose(rng, residence, n)
    band = choose(rng, bands[wijk], n) if n else np.zeros(0, dtype=np.int64)
    age = band * 5 + rng.random(n) * 5
    return sex, wijk, age


def simulate_registration(
    rng: np.random.Generator,
    wijken: tuple[Wijk, ...],
    home: int,
    target: int,
    quarters: list[Quarter],
    count_on: int,
    thin_rng: np.random.Generator,
) -> Population:
    """Simulate the list from quarters[0].start to quarters[-1]'s end, then thin it to exactly `target` patients
    registered on day `count_on` (the first requested quarter's reference date)."""
    residence = residence_weights(wijken, home)
    bands = age_band_weights(wijken)
    mover_bands = age_band_weights(wijken, movers=True)
    deprivation = np.array([w.deprivation_level for w in wijken])
    children_factor = wijken[home].age_factors[0]
    start = day_number(quarters[0].start)

    n0 = int(np.ceil(target * OVERSUPPLY)) + 10
    sex, wijk, age = _people(rng, wijken, residence, bands, n0)
    age_days = np.round(age * DAYS_PER_YEAR).astype(np.int64)
    birth = np.maximum(start - age_days, DAY_1900 + 366)
    listed_for = np.round(rng.exponential(9.0, n0) * DAYS_PER_YEAR).astype(np.int64)
    registered_from = start - np.minimum(start - birth, listed_for)
    parts = [
        Population(
            birth,
            sex,
            wijk,
            registered_from,
            np.full(n0, NO_END, dtype=np.int64),
            np.zeros(n0, dtype=np.int64),
        )
    ]

    for quarter in quarters:
        q_start, q_end = day_number(quarter.start), day_number(quarter.reference_date)
        q_days = q_end - q_start + 1
        pop = Population.concat(parts)
        parts = [pop]
        active = (pop.until == NO_END) & (pop.registered_from < q_end)
        exposure = np.where(active, (q_end - np.maximum(q_start, pop.registered_from)) / DAYS_PER_YEAR, 0.0)
        age_now = (q_start + q_days // 2 - pop.birth) / DAYS_PER_YEAR
        h_death = death_rate(age_now) * DEATH_DEPRIVATION[deprivation[pop.wijk]]
        h_move = move_rate(age_now)
        h_total = h_death + h_move + OTHER_EXIT_RATE
        p_exit = 1.0 - np.exp(-h_total * exposure)
        leaves = active & (rng.random(pop.n) < p_exit)
        which = choose(rng, np.stack([h_move, h_death, np.full(pop.n, OTHER_EXIT_RATE)], axis=1), pop.n) + 1
        first = np.maximum(q_start, pop.registered_from + 1)
        exit_day = first + np.floor(rng.random(pop.n) * np.maximum(q_end - first + 1, 1)).astype(np.int64)
        pop.until[leaves] = exit_day[leaves]
        pop.end_reason[leaves] = which[leaves]

        n_active = int(active.sum())
        expected_births = BIRTH_RATE * children_factor * n_active * q_days / DAYS_PER_YEAR
        births = rng.poisson(expected_births)
        movers = rng.poisson(max(float(p_exit[active].sum()) - expected_births, 0.0))
        if births:
            b_sex, b_wijk, _ = _people(rng, wijken, residence, bands, births)
            b_birth = q_start + np.floor(rng.random(births) * q_days).astype(np.int64)
            b_from = b_birth + rng.integers(0, 43, births)
            parts.append(
                Population(
                    b_birth,
                    b_sex,
                    b_wijk,
                    b_from,
                    np.full(births, NO_END, dtype=np.int64),
                    np.zeros(births, dtype=np.int64),
                )
            )
        if movers:
            m_sex, m_wijk, m_age = _people(rng, wijken, residence, mover_bands, movers)
            m_from = q_start + np.floor(rng.random(movers) * q_days).astype(np.int64)
            m_birth = np.maximum(m_from - np.round(m_age * DAYS_PER_YEAR).astype(np.int64), DAY_1900 + 366)
            parts.append(
                Population(
                    m_birth,
                    m_sex,
                    m_wijk,
                    m_from,
                    np.full(movers, NO_END, dtype=np.int64),
                    np.zeros(movers, dtype=np.int64),
                )
            )

    pop = Population.concat(parts)
    # thin to exactly `target` registered on count_on; others kept with the same probability (unbiased)
    registered = (pop.registered_from <= count_on) & (pop.until > count_on)
    m = int(registered.sum())
    if m > target:
        chosen = np.flatnonzero(registered)
        keep_registered = np.zeros(pop.n, dtype=bool)
        keep_registered[thin_rng.choice(chosen, size=target, replace=False)] = True
        keep_other = ~registered & (thin_rng.random(pop.n) < target / m)
        pop = pop.take(np.flatnonzero(keep_registered | keep_other))
    return pop
