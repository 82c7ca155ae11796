"""Episodes and prescriptions of one practice's patients, vectorised over patients.

Chronic and sensory conditions come from age curves of cumulative (ever) probability: each patient draws one
uniform number per condition, and the age at which the curve passes it (scaled by sex and deprivation factors) is
the onset age. Medicines are repeat-prescription courses started by conditions; relievers for asthma and COPD are
prescribed as a Poisson process during the episode. Every number is documented in docs/synthetic-data.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from omu.synthetic._util import DAYS_PER_YEAR, NO_END, choose, expand, poisson_days
from omu.synthetic.reference import atc_matches, codelist_codes, icpc_matches

Curve = tuple[tuple[float, float], ...]


@dataclass
class Cohort:
    """The patients of one practice as the clinical generators need them (all arrays indexed by patient)."""

    birth: np.ndarray
    sex: np.ndarray  # 0 M, 1 V, 2 O
    deprivation: np.ndarray  # 0 laag, 1 midden, 2 hoog (of the wijk they live in)
    registered_from: np.ndarray
    until: np.ndarray  # exclusive, NO_END if open
    lower: np.ndarray  # first day events are recorded: max(registered_from, history start)
    upper: np.ndarray  # exclusive last day: min(until, simulation end + 1)
    history_start: int
    simulation_end: int  # exclusive

    @property
    def n(self) -> int:
        return self.birth.size

    def age_at(self, day: np.ndarray | int, index: np.ndarray | None = None) -> np.ndarray:
        birth = self.birth if index is None else self.birth[index]
        return (np.asarray(day) - birth) / DAYS_PER_YEAR


@dataclass(frozen=True)
class Condition:
    key: str  # ICPC code, or a hidden key starting with '_' (drug use without an episode)
    curve: Curve  # (age, cumulative probability of onset by that age)
    male: float = 1.0
    female: float = 1.0
    deprivation: tuple[float, float, float] = (1.0, 1.0, 1.0)  # laag, midden, hoog
    end_prob: float = 0.0  # probability that an episode ends (remission, resolved)
    end_years: float = 3.0  # mean duration of an episode that ends
    restart_prob: float = 0.0  # probability that an ended episode starts again
    gap_years: float = 1.5  # mean gap before it restarts
    subcodes: tuple[tuple[str, float], ...] = ()
    close_per_year: float = 0.0  # episodes closed on the problem list at this rate from their start

    @property
    def hidden(self) -> bool:
        return self.key.startswith("_")


def _c(*points: tuple[float, float]) -> Curve:
    return tuple(points)


CONDITIONS: tuple[Condition, ...] = (
    # respiratory
    Condition(
        "R96",
        _c((0, 0), (2, 0.045), (6, 0.10), (12, 0.115), (25, 0.12), (45, 0.125), (70, 0.13), (105, 0.135)),
        deprivation=(0.85, 1.0, 1.3),
        end_prob=0.6,
        end_years=7.0,
        restart_prob=0.4,
        gap_years=2.0,
    ),
    Condition(
        "R95",
        _c((0, 0), (40, 0.001), (55, 0.02), (65, 0.045), (75, 0.075), (90, 0.10), (105, 0.11)),
        male=1.15,
        deprivation=(0.7, 1.0, 1.6),
    ),
    # cardiovascular, metabolic
    Condition(
        "K86",
        _c(
            (0, 0),
            (25, 0.002),
            (40, 0.04),
            (50, 0.11),
            (60, 0.22),
            (70, 0.35),
            (80, 0.45),
            (95, 0.50),
            (105, 0.51),
        ),
        deprivation=(0.9, 1.0, 1.15),
    ),
    Condition(
        "T90",
        _c(
            (0, 0),
            (15, 0.002),
            (30, 0.006),
            (45, 0.03),
            (55, 0.07),
            (65, 0.12),
            (75, 0.17),
            (90, 0.20),
            (105, 0.21),
        ),
        male=1.1,
        deprivation=(0.8, 1.0, 1.5),
        subcodes=(("T90.02", 0.7), ("T90.01", 0.04)),
    ),
    Condition(
        "K74",
        _c((0, 0), (45, 0.002), (60, 0.015), (75, 0.045), (90, 0.07), (105, 0.075)),
        male=1.3,
        female=0.7,
        end_prob=0.2,
        end_years=4.0,
    ),
    Condition(
        "K76", _c((0, 0), (45, 0.003), (60, 0.02), (75, 0.07), (90, 0.11), (105, 0.12)), male=1.4, female=0.6
    ),
    Condition("K77", _c((0, 0), (55, 0.002), (70, 0.015), (80, 0.045), (90, 0.10), (105, 0.15))),
    Condition(
        "K78",
        _c((0, 0), (45, 0.002), (60, 0.015), (70, 0.045), (80, 0.10), (90, 0.16), (105, 0.18)),
        end_prob=0.1,
        end_years=2.0,
    ),
    Condition("K90", _c((0, 0), (45, 0.003), (60, 0.01), (75, 0.04), (90, 0.08), (105, 0.09))),
    # other chronic
    Condition("P70", _c((0, 0), (60, 0.001), (70, 0.01), (80, 0.05), (90, 0.18), (105, 0.30)), female=1.2),
    Condition("L89", _c((0, 0), (45, 0.005), (60, 0.03), (75, 0.08), (90, 0.12), (105, 0.13)), female=1.3),
    Condition("L90", _c((0, 0), (45, 0.01), (60, 0.05), (75, 0.12), (90, 0.17), (105, 0.18)), female=1.4),
    Condition("N87", _c((0, 0), (55, 0.0005), (70, 0.006), (80, 0.015), (90, 0.025), (105, 0.03))),
    Condition(
        "P76",
        _c((0, 0), (14, 0.002), (20, 0.03), (40, 0.08), (65, 0.12), (90, 0.15), (105, 0.16)),
        female=1.6,
        deprivation=(0.8, 1.0, 1.4),
        end_prob=0.7,
        end_years=1.5,
        restart_prob=0.4,
        gap_years=3.0,
    ),
    # eyes
    Condition(
        "F94",
        _c((0, 0), (20, 0.001), (50, 0.004), (65, 0.013), (75, 0.038), (85, 0.10), (95, 0.20), (105, 0.24)),
        end_prob=0.12,
        end_years=2.0,
        subcodes=(("F94.01", 0.15), ("F94.02", 0.1)),
        close_per_year=0.03,
    ),
    Condition(
        "F28",
        _c((0, 0), (40, 0.001), (70, 0.006), (85, 0.02), (105, 0.04)),
        end_prob=0.3,
        end_years=2.0,
        restart_prob=0.2,
        close_per_year=0.05,
    ),
    Condition("F93", _c((0, 0), (40, 0.002), (55, 0.01), (70, 0.03), (85, 0.065), (105, 0.08))),
    Condition(
        "F92",
        _c((0, 0), (50, 0.005), (65, 0.04), (75, 0.12), (85, 0.25), (105, 0.35)),
        end_prob=0.85,
        end_years=1.2,
    ),  # cataract: a near miss for visual impairment, mostly resolved
    # ears
    Condition(
        "H84",
        _c(
            (0, 0),
            (50, 0.002),
            (60, 0.022),
            (70, 0.09),
            (75, 0.155),
            (80, 0.24),
            (85, 0.34),
            (95, 0.48),
            (105, 0.52),
        ),
        male=1.15,
        close_per_year=0.015,
    ),
    Condition(
        "H86",
        _c((0, 0), (5, 0.003), (30, 0.006), (50, 0.015), (65, 0.035), (75, 0.07), (85, 0.12), (105, 0.18)),
        end_prob=0.25,
        end_years=2.5,
        restart_prob=0.3,
        gap_years=1.0,
        subcodes=(("H86.01", 0.1),),
        close_per_year=0.03,
    ),
    Condition(
        "H28",
        _c((0, 0), (50, 0.002), (75, 0.01), (90, 0.025), (105, 0.03)),
        end_prob=0.3,
        end_years=2.0,
        close_per_year=0.05,
    ),
    # hidden: medicine use without an episode on the problem list
    Condition("_ppi", _c((0, 0), (20, 0.005), (40, 0.04), (60, 0.12), (75, 0.24), (90, 0.32), (105, 0.34))),
    Condition("_thyroid", _c((0, 0), (20, 0.004), (40, 0.02), (60, 0.05), (80, 0.08), (105, 0.09)), male=0.2),
    Condition(
        "_contraception", _c((0, 0), (15, 0.0), (17, 0.15), (22, 0.35), (30, 0.45), (105, 0.46)), male=0.0
    ),
    Condition("_vitamin_d", _c((0, 0), (60, 0.01), (70, 0.06), (85, 0.20), (105, 0.24)), female=1.5),
    Condition("_laxative", _c((0, 0), (60, 0.02), (75, 0.08), (85, 0.18), (105, 0.25))),
    Condition("_osteoporosis", _c((0, 0), (55, 0.01), (70, 0.08), (85, 0.20), (105, 0.24)), male=0.25),
    Condition("_prostate", _c((0, 0), (50, 0.01), (65, 0.08), (80, 0.20), (105, 0.25)), female=0.0),
    Condition("_pain", _c((0, 0), (40, 0.02), (65, 0.06), (80, 0.15), (105, 0.20))),
    Condition("_skin", _c((0, 0), (5, 0.03), (40, 0.08), (75, 0.14), (105, 0.16))),
    Condition("_dry_eye", _c((0, 0), (50, 0.01), (75, 0.06), (90, 0.10), (105, 0.11))),
    Condition("_bb_other", _c((0, 0), (15, 0.001), (30, 0.008), (50, 0.018), (70, 0.025), (105, 0.03))),
    Condition("_sleep", _c((0, 0), (40, 0.01), (65, 0.04), (85, 0.08), (105, 0.09))),
    Condition("_statin_primary", _c((0, 0), (45, 0.005), (55, 0.04), (65, 0.12), (75, 0.20), (105, 0.22))),
    Condition("_allergy", _c((0, 0), (5, 0.03), (20, 0.10), (40, 0.14), (105, 0.15))),
)

DEFAULT_CHRONIC_CURVE: Curve = _c((0, 0), (40, 0.005), (70, 0.02), (105, 0.04))


@dataclass(frozen=True)
class Course:
    """A repeat-prescription course started by one of its trigger conditions."""

    name: str
    triggers: tuple[tuple[str, float], ...]  # (condition key, probability the condition starts this course)
    agents: tuple[tuple[str, float], ...]  # (ATC, weight)
    intervals: tuple[tuple[int, float], ...] = ((90, 0.8), (30, 0.1), (60, 0.1))
    units_per_day: float = 1.0
    fixed_quantity: float | None = None
    stop_per_year: float = 0.05
    switch_prob: float = 0.0  # at a stop: probability of switching to another agent of the course
    per_episode: bool = False  # one course per trigger episode, ending with the episode
    late_prob: float = 0.0  # probability the course starts later than the episode (step-up)
    late_years: float = 1.0
    max_age: float | None = None


BETA_BLOCKER_AGENTS = (
    ("C07AB02", 0.45),
    ("C07AB07", 0.27),
    ("C07AB03", 0.07),
    ("C07AG02", 0.07),
    ("C07AB12", 0.08),
    ("C07AA05", 0.06),
)

COURSES: tuple[Course, ...] = (
    Course(
        "beta_blocker",
        (("K86", 0.15), ("K74", 0.65), ("K76", 0.55), ("K78", 0.5), ("K77", 0.6)),
        BETA_BLOCKER_AGENTS,
        stop_per_year=0.06,
        switch_prob=0.4,
    ),
    Course(
        "beta_blocker_other",
        (("_bb_other", 1.0),),
        (("C07AA05", 0.85), ("C07AB02", 0.15)),
        intervals=((30, 0.4), (90, 0.6)),
        stop_per_year=0.25,
    ),
    Course(
        "ace_arb",
        (("K86", 0.55), ("K77", 0.6), ("T90", 0.25)),
        (("C09AA02", 0.25), ("C09AA05", 0.15), ("C09CA01", 0.45), ("C09CA03", 0.15)),
        switch_prob=0.3,
    ),
    Course("thiazide", (("K86", 0.3),), (("C03AA03", 0.8), ("C03BA04", 0.2))),
    Course("calcium_channel", (("K86", 0.25), ("K74", 0.2)), (("C08CA01", 0.8), ("C08CA13", 0.2))),
    Course("loop_diuretic", (("K77", 0.75),), (("C03CA01", 0.85), ("C03CA02", 0.15)), stop_per_year=0.03),
    Course(
        "statin",
        (("T90", 0.65), ("K74", 0.85), ("K76", 0.85), ("K90", 0.85), ("K86", 0.35), ("_statin_primary", 1.0)),
        (("C10AA01", 0.45), ("C10AA05", 0.35), ("C10AA07", 0.2)),
        stop_per_year=0.04,
    ),
    Course(
        "antiplatelet",
        (("K74", 0.7), ("K76", 0.7), ("K90", 0.7)),
        (("B01AC08", 0.55), ("B01AC06", 0.2), ("B01AC04", 0.25)),
        stop_per_year=0.03,
    ),
    Course(
        "anticoagulant",
        (("K78", 0.75),),
        (("B01AF02", 0.4), ("B01AF01", 0.3), ("B01AA07", 0.3)),
        stop_per_year=0.03,
    ),
    Course("metformin", (("T90", 0.85),), (("A10BA02", 1.0),), units_per_day=2.0, stop_per_year=0.03),
    Course("sulfonylurea", (("T90", 0.3),), (("A10BB09", 1.0),), stop_per_year=0.05),
    Course("insulin", (("T90", 0.15),), (("A10AE04", 1.0),), fixed_quantity=5.0, stop_per_year=0.01),
    Course("lama", (("R95", 0.55),), (("R03BB04", 0.7), ("R03BB06", 0.3)), fixed_quantity=1.0),
    Course(
        "copd_combination",
        (("R95", 0.3),),
        (("R03AL03", 0.5), ("R03AL08", 0.3), ("R03AK08", 0.2)),
        fixed_quantity=1.0,
    ),
    Course(
        "ics_asthma",
        (("R96", 0.6),),
        (
            ("R03BA02", 0.25),
            ("R03BA05", 0.15),
            ("R03BA08", 0.05),
            ("R03AK06", 0.2),
            ("R03AK07", 0.25),
            ("R03AK08", 0.1),
        ),
        fixed_quantity=1.0,
        stop_per_year=0.10,
        per_episode=True,
        late_prob=0.4,
        late_years=1.5,
    ),
    Course(
        "laba_asthma",
        (("R96", 0.04),),
        (("R03AC12", 0.6), ("R03AC13", 0.4)),
        fixed_quantity=1.0,
        stop_per_year=0.2,
        per_episode=True,
    ),  # a long-acting beta agonist: neither SABA nor ICS
    Course("montelukast", (("R96", 0.05),), (("R03DC03", 1.0),), stop_per_year=0.2, per_episode=True),
    Course(
        "antidepressant",
        (("P76", 0.6),),
        (("N06AB06", 0.45), ("N06AB04", 0.25), ("N06AB10", 0.3)),
        per_episode=True,
        stop_per_year=0.2,
    ),
    Course("dementia", (("P70", 0.3),), (("N06DA02", 0.7), ("N05AX08", 0.3)), stop_per_year=0.1),
    Course("parkinson", (("N87", 0.8),), (("N04BA02", 1.0),), units_per_day=3.0, stop_per_year=0.01),
    Course(
        "analgesic",
        (("L89", 0.4), ("L90", 0.4)),
        (("N02BE01", 0.8), ("M01AE01", 0.2)),
        units_per_day=3.0,
        stop_per_year=0.15,
    ),
    Course(
        "glaucoma_prostaglandin",
        (("F93", 0.6),),
        (("S01EE01", 0.8), ("S01EE03", 0.2)),
        fixed_quantity=1.0,
        stop_per_year=0.02,
    ),
    Course("glaucoma_timolol", (("F93", 0.3),), (("S01ED01", 1.0),), fixed_quantity=1.0, stop_per_year=0.03),
    Course(
        "ppi",
        (("_ppi", 1.0), ("K74", 0.3), ("K76", 0.3), ("K90", 0.3)),
        (("A02BC02", 0.5), ("A02BC01", 0.4), ("A02BC05", 0.1)),
        stop_per_year=0.1,
    ),
    Course("levothyroxine", (("_thyroid", 1.0),), (("H03AA01", 1.0),), stop_per_year=0.01),
    Course(
        "contraception",
        (("_contraception", 1.0),),
        (("G03AA07", 0.6), ("G03AC09", 0.4)),
        stop_per_year=0.15,
        max_age=50,
    ),
    Course("vitamin_d", (("_vitamin_d", 1.0),), (("A11CC05", 1.0),), stop_per_year=0.1),
    Course(
        "sleep",
        (("_sleep", 1.0),),
        (("N05CD07", 0.5), ("N05CF01", 0.5)),
        intervals=((30, 1.0),),
        stop_per_year=0.3,
    ),
    Course(
        "laxative",
        (("_laxative", 1.0),),
        (("A06AD65", 0.7), ("A06AD11", 0.3)),
        fixed_quantity=1.0,
        stop_per_year=0.2,
    ),
    Course(
        "bisphosphonate",
        (("_osteoporosis", 0.85),),
        (("M05BA04", 1.0),),
        intervals=((84, 1.0),),
        units_per_day=1 / 7,
        stop_per_year=0.12,
    ),
    Course("calcium", (("_osteoporosis", 0.9),), (("A12AX", 1.0),), stop_per_year=0.1),
    Course("alpha_blocker", (("_prostate", 1.0),), (("G04CA02", 1.0),), stop_per_year=0.05),
    Course(
        "pain", (("_pain", 1.0),), (("N02BE01", 0.7), ("N02AX02", 0.3)), units_per_day=3.0, stop_per_year=0.2
    ),
    Course(
        "skin", (("_skin", 1.0),), (("D07AC01", 0.5), ("D02AE01", 0.5)), fixed_quantity=1.0, stop_per_year=0.3
    ),
    Course("dry_eye", (("_dry_eye", 1.0),), (("S01XA20", 1.0),), fixed_quantity=1.0, stop_per_year=0.1),
    Course(
        "antihistamine",
        (("_allergy", 0.5),),
        (("R06AE07", 0.6), ("R06AX27", 0.4)),
        intervals=((90, 1.0),),
        stop_per_year=0.3,
    ),
    Course(
        "nasal_steroid",
        (("_allergy", 0.4),),
        (("R01AD09", 0.5), ("R01AD08", 0.5)),
        fixed_quantity=1.0,
        intervals=((90, 1.0),),
        stop_per_year=0.3,
    ),  # nasal corticosteroids: not ICS (R03BA)
)

SABA_WEIGHTS = {"R03AC02": 0.84, "R03AC03": 0.08, "R03AC04": 0.02, "R03AL01": 0.02, "R03AL02": 0.04}
COPD_SABA_WEIGHTS = {"R03AC02": 0.6, "R03AL02": 0.3, "R03AL01": 0.1}
SABA_QUANTITY = ((1.0, 0.62), (2.0, 0.35), (None, 0.03))  # inhalers per prescription; None = not recorded
ASTHMA_SABA_SHARE = 0.9  # share of asthma episodes in which a reliever is prescribed at all
ASTHMA_SABA_MEDIAN, ASTHMA_SABA_SIGMA = 1.2, 0.8  # prescriptions per year: lognormal per patient
COPD_SABA_SHARE, COPD_SABA_MEDIAN = 0.5, 1.5
# Reliever use WITHOUT an asthma episode (undiagnosed, or the episode never coded): young people who
# collect salbutamol and hardly come to the practice. About one in seven has such a spell once,
# starting between 12 and 35 and lasting about 2.5 years (so about 1.5% of 12-40-year-olds are in
# one on a given day), at a per-patient rate (lognormal, median 3 prescriptions a year); no ICS.
# Of them, 60% avoid the practice: they keep only a tenth of their routine contacts.
RELIEVER_ONLY_SHARE = 0.15
RELIEVER_ONLY_AGES = (12.0, 35.0)
RELIEVER_ONLY_YEARS = 2.5
RELIEVER_ONLY_MEDIAN = 3.0
RELIEVER_ONLY_AVOIDERS, AVOIDER_CONTACTS_KEPT = 0.6, 0.1

# Acute episodes: (ICPC, weights for ages 0-17 / 18-64 / 65+, acute prescriptions (ATC, probability)).
ACUTE: tuple[tuple[str, tuple[float, float, float], tuple[tuple[str, float], ...]], ...] = (
    ("R74", (0.25, 0.20, 0.15), (("J01CA04", 0.08),)),
    ("R05", (0.08, 0.10, 0.10), (("R05DA04", 0.05),)),
    ("R78", (0.04, 0.06, 0.10), (("J01AA02", 0.3), ("R03AC02", 0.15))),
    ("R81", (0.01, 0.01, 0.05), (("J01CA04", 0.7),)),
    ("U71", (0.02, 0.08, 0.08), (("J01XE01", 0.6), ("J01EA01", 0.2))),
    ("L03", (0.01, 0.10, 0.07), (("M01AE01", 0.3), ("N02BE01", 0.2))),
    ("L15", (0.02, 0.05, 0.06), (("M01AE01", 0.2),)),
    ("H71", (0.15, 0.02, 0.01), (("J01CA04", 0.4),)),
    ("H81", (0.03, 0.05, 0.08), ()),  # ear wax: a near miss for hearing impairment
    ("F70", (0.06, 0.03, 0.03), (("S01AA01", 0.5),)),
    ("S03", (0.08, 0.05, 0.02), ()),
    ("S74", (0.04, 0.06, 0.05), (("D01AC02", 0.6),)),
    ("D11", (0.08, 0.05, 0.04), ()),
    ("A04", (0.01, 0.06, 0.05), ()),
    ("N01", (0.03, 0.05, 0.03), (("N02BE01", 0.2),)),
    ("P01", (0.01, 0.04, 0.02), (("N05BA01", 0.1),)),
)
ACUTE_RATE_AGES = np.array([0, 5, 18, 65])
ACUTE_RATES = np.array([1.4, 0.8, 0.7, 0.9])  # acute episodes per patient per year
ACUTE_UNCLOSED = 0.08  # acute episodes never closed in the HIS (end_date empty)


@dataclass
class Intervals:
    """Episodes of one condition: patient index, start day, end day (exclusive of nothing: NO_END if open)."""

    patient: np.ndarray
    start: np.ndarray
    end: np.ndarray


@dataclass
class Rows:
    """Columns of generated rows (numpy), concatenated per table."""

    columns: dict[str, np.ndarray]

    @staticmethod
    def concat(parts: list[Rows], names: tuple[str, ...]) -> Rows:
        if not parts:
            return Rows({n: np.zeros(0, dtype=np.int64) for n in names})
        return Rows({n: np.concatenate([p.columns[n] for p in parts]) for n in names})


def _monotone(curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    ages = np.array([a for a, _ in curve], dtype=float)
    probability = np.maximum.accumulate(np.array([p for _, p in curve], dtype=float))
    return ages, probability + np.arange(probability.size) * 1e-12


def conditions(
    rng: np.random.Generator, cohort: Cohort, chronic_codes: tuple[str, ...]
) -> tuple[dict[str, Intervals], Rows]:
    """Onsets and episodes of every condition. Returns the intervals per condition key (for courses, before
    records are frozen at de-registration) and the episode rows to write."""
    defined = {c.key for c in CONDITIONS}
    extra = tuple(Condition(code, DEFAULT_CHRONIC_CURVE) for code in chronic_codes if code not in defined)
    intervals: dict[str, Intervals] = {}
    parts: list[Rows] = []
    for condition in CONDITIONS + extra:
        sex_factor = np.where(
            cohort.sex == 0, condition.male, np.where(cohort.sex == 1, condition.female, 1.0)
        )
        scale = sex_factor * np.asarray(condition.deprivation)[cohort.deprivation]
        ages, probability = _monotone(condition.curve)
        u = rng.random(cohort.n)
        with np.errstate(divide="ignore"):
            x = np.where(scale > 0, u / np.where(scale > 0, scale, 1.0), np.inf)
        has = x < probability[-1]
        onset_age = np.interp(np.where(has, x, 0.0), probability, ages)
        onset = cohort.birth + np.round(onset_age * DAYS_PER_YEAR).astype(np.int64)
        n = cohort.n
        ends1 = rng.random(n) < condition.end_prob
        duration1 = np.maximum(np.round(rng.exponential(condition.end_years, n) * DAYS_PER_YEAR), 30).astype(
            np.int64
        )
        end1 = np.where(ends1, onset + duration1, NO_END)
        restarts = ends1 & (rng.random(n) < condition.restart_prob)
        start2 = (
            end1 + 30 + np.round(rng.exponential(condition.gap_years, n) * DAYS_PER_YEAR).astype(np.int64)
        )
        ends2 = rng.random(n) < condition.end_prob
        duration2 = np.maximum(np.round(rng.exponential(condition.end_years, n) * DAYS_PER_YEAR), 30).astype(
            np.int64
        )
        end2 = np.where(ends2, start2 + duration2, NO_END)
        if condition.close_per_year > 0:
            for begin, end in ((onset, end1), (start2, end2)):
                closed = begin + np.round(rng.exponential(1 / condition.close_per_year, n) * DAYS_PER_YEAR)
                np.minimum(end, np.maximum(closed.astype(np.int64), begin + 30), out=end)
        first = has & (onset < cohort.upper)
        second = first & restarts & (start2 < cohort.upper)
        patient = np.concatenate([np.flatnonzero(first), np.flatnonzero(second)])
        start = np.concatenate([onset[first], start2[second]])
        end = np.concatenate([end1[first], end2[second]])
        intervals[condition.key] = Intervals(patient, start, end)
        if condition.hidden:
            continue
        codes = np.array([condition.key] + [s for s, _ in condition.subcodes])
        weights = np.array([1.0 - sum(w for _, w in condition.subcodes)] + [w for _, w in condition.subcodes])
        code_of = codes[choose(rng, weights, n)]
        # the record is frozen when the patient leaves: no end date after registration ended
        written_end = np.where(end >= cohort.until[patient], NO_END, end)
        parts.append(Rows({"patient": patient, "icpc": code_of[patient], "start": start, "end": written_end}))
    return intervals, Rows.concat(parts, ("patient", "icpc", "start", "end"))


def _course_rows(
    rng: np.random.Generator,
    cohort: Cohort,
    course: Course,
    patient: np.ndarray,
    start0: np.ndarray,
    end: np.ndarray,
    agent: np.ndarray,
) -> tuple[Rows, np.ndarray, np.ndarray]:
    """Prescription rows of courses starting on start0 (intended) and ending before `end` (exclusive).
    Returns the rows and, per course, the planned stop day and whether the stop came first."""
    m = patient.size
    interval_values = np.array([i for i, _ in course.intervals])
    interval = interval_values[choose(rng, np.array([w for _, w in course.intervals]), m)]
    lower = cohort.lower[patient]
    if course.stop_per_year > 0:
        # memoryless stops counted from the start of the record: the trigger probability is the share on
        # treatment, also for conditions that began long before the history
        stop = np.maximum(start0, lower) + np.round(
            rng.exponential(1 / course.stop_per_year, m) * DAYS_PER_YEAR
        ).astype(np.int64)
    else:
        stop = np.full(m, NO_END, dtype=np.int64)
    limit = np.minimum(end, cohort.upper[patient])
    if course.max_age is not None:
        limit = np.minimum(limit, cohort.birth[patient] + int(course.max_age * DAYS_PER_YEAR))
    stopped = stop < limit
    last = np.minimum(stop, limit)  # exclusive
    phase = np.floor(rng.random(m) * interval).astype(np.int64)
    first = np.where(start0 >= lower, start0, lower + phase)
    count = np.where(last > first, (last - first - 1) // interval + 1, 0)
    owner, rank = expand(count)
    jitter = np.where(rank > 0, rng.integers(-7, 8, owner.size), 0)
    day = first[owner] + rank * interval[owner] + jitter
    keep = day < last[owner]
    owner, day = owner[keep], day[keep]
    quantity = np.round(
        np.full(owner.size, course.fixed_quantity)
        if course.fixed_quantity is not None
        else interval[owner] * course.units_per_day,
        2,
    ).astype(float)
    rows = Rows(
        {
            "patient": patient[owner],
            "atc": agent[owner],
            "day": day,
            "quantity": quantity,
            "duration": interval[owner].astype(np.int64),
        }
    )
    return rows, stop, stopped


def courses(rng: np.random.Generator, cohort: Cohort, intervals: dict[str, Intervals]) -> Rows:
    parts: list[Rows] = []
    for course in COURSES:
        agents = np.array([a for a, _ in course.agents])
        agent_weights = np.array([w for _, w in course.agents])
        patient_parts, start_parts, end_parts = [], [], []
        for key, probability in course.triggers:
            found = intervals[key]
            fires = rng.random(found.patient.size) < probability
            patient_parts.append(found.patient[fires])
            start_parts.append(found.start[fires])
            end_parts.append(found.end[fires] if course.per_episode else np.full(int(fires.sum()), NO_END))
        patient = np.concatenate(patient_parts)
        start = np.concatenate(start_parts)
        end = np.concatenate(end_parts)
        if not course.per_episode and patient.size:
            earliest = np.full(cohort.n, NO_END, dtype=np.int64)
            np.minimum.at(earliest, patient, start)
            patient = np.flatnonzero(earliest < NO_END)
            start = earliest[patient]
            end = np.full(patient.size, NO_END, dtype=np.int64)
        m = patient.size
        delay = rng.integers(0, 31, m)
        late = rng.random(m) < course.late_prob
        delay = delay + np.where(
            late, np.round(rng.exponential(course.late_years, m) * DAYS_PER_YEAR), 0
        ).astype(np.int64)
        agent = agents[choose(rng, agent_weights, m)]
        rows, stop, stopped = _course_rows(rng, cohort, course, patient, start + delay, end, agent)
        parts.append(rows)
        if course.switch_prob > 0 and agents.size > 1:
            switch = stopped & (rng.random(m) < course.switch_prob)
            old = np.searchsorted(np.sort(agents), agent)  # position in sorted agents
            sorted_agents = np.sort(agents)
            new = sorted_agents[(old + 1 + rng.integers(0, agents.size - 1, m)) % agents.size]
            restart = stop + rng.integers(1, 31, m)
            rows2, _, _ = _course_rows(
                rng, cohort, course, patient[switch], restart[switch], end[switch], new[switch]
            )
            parts.append(rows2)
    return Rows.concat(parts, ("patient", "atc", "day", "quantity", "duration"))


def _weighted_codes(weights: dict[str, float], allowed: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    for code in weights:
        if not atc_matches(code, allowed):
            raise ValueError(f"generator code {code} does not match codelist {allowed}")
    return np.array(list(weights)), np.array(list(weights.values()))


def relievers(
    rng: np.random.Generator, cohort: Cohort, intervals: dict[str, Intervals], saba_codes: tuple[str, ...]
) -> Rows:
    """SABA prescriptions (1-2 inhalers each) during asthma and COPD episodes at a per-patient rate."""
    parts = []
    quantity_values = np.array([np.nan if q is None else q for q, _ in SABA_QUANTITY])
    quantity_weights = np.array([w for _, w in SABA_QUANTITY])
    for key, share, median, weights in (
        ("R96", ASTHMA_SABA_SHARE, ASTHMA_SABA_MEDIAN, SABA_WEIGHTS),
        ("R95", COPD_SABA_SHARE, COPD_SABA_MEDIAN, COPD_SABA_WEIGHTS),
    ):
        codes, code_weights = _weighted_codes(weights, saba_codes)
        rate_of = median * np.exp(ASTHMA_SABA_SIGMA * rng.standard_normal(cohort.n))
        uses = rng.random(cohort.n) < share
        found = intervals[key]
        patient = found.patient
        lo = np.maximum(found.start, cohort.lower[patient])
        hi = np.minimum(found.end, cohort.upper[patient])
        rate = np.where(uses[patient], rate_of[patient], 0.0)
        owner, day = poisson_days(rng, lo, hi, rate)
        atc = codes[choose(rng, code_weights, cohort.n)][patient[owner]]  # one usual product per patient
        quantity = quantity_values[choose(rng, quantity_weights, owner.size)]
        parts.append(
            Rows(
                {
                    "patient": patient[owner],
                    "atc": atc,
                    "day": day,
                    "quantity": quantity,
                    "duration": np.full(owner.size, 90, dtype=np.int64),
                }
            )
        )
    return Rows.concat(parts, ("patient", "atc", "day", "quantity", "duration"))


def reliever_only(
    rng: np.random.Generator, cohort: Cohort, intervals: dict[str, Intervals], saba_codes: tuple[str, ...]
) -> tuple[Rows, np.ndarray]:
    """SABA prescriptions of young reliever-only users without any asthma (R96) episode, and which
    patients among them avoid the practice (see avoid_practice)."""
    n = cohort.n
    spell = rng.random(n) < RELIEVER_ONLY_SHARE
    onset = cohort.birth + np.round(rng.uniform(*RELIEVER_ONLY_AGES, n) * DAYS_PER_YEAR).astype(np.int64)
    length = np.maximum(np.round(rng.exponential(RELIEVER_ONLY_YEARS, n) * DAYS_PER_YEAR), 60).astype(
        np.int64
    )
    rate_of = RELIEVER_ONLY_MEDIAN * np.exp(ASTHMA_SABA_SIGMA * rng.standard_normal(n))
    codes, code_weights = _weighted_codes(SABA_WEIGHTS, saba_codes)
    usual = codes[choose(rng, code_weights, n)]
    asthma = np.zeros(n, dtype=bool)
    asthma[intervals["R96"].patient] = True
    patient = np.flatnonzero(spell & ~asthma)
    lo = np.maximum(onset[patient], cohort.lower[patient])
    hi = np.minimum(onset[patient] + length[patient], cohort.upper[patient])
    owner, day = poisson_days(rng, lo, hi, rate_of[patient])
    quantity_values = np.array([np.nan if q is None else q for q, _ in SABA_QUANTITY])
    quantity = quantity_values[choose(rng, np.array([w for _, w in SABA_QUANTITY]), owner.size)]
    rows = Rows(
        {
            "patient": patient[owner],
            "atc": usual[patient[owner]],
            "day": day,
            "quantity": quantity,
            "duration": np.full(owner.size, 90, dtype=np.int64),
        }
    )
    avoiders = patient[rng.random(patient.size) < RELIEVER_ONLY_AVOIDERS]
    return rows, avoiders


def avoid_practice(rng: np.random.Generator, contacts: Rows, avoiders: np.ndarray) -> Rows:
    """Routine contacts with the practice, of which the avoiders keep only AVOIDER_CONTACTS_KEPT."""
    avoids = np.isin(contacts.columns["patient"], avoiders)
    keep = ~avoids | (rng.random(avoids.size) < AVOIDER_CONTACTS_KEPT)
    return Rows({name: column[keep] for name, column in contacts.columns.items()})


def acute(rng: np.random.Generator, cohort: Cohort, excluded: tuple[str, ...]) -> tuple[Rows, Rows]:
    """Acute episodes (closed after 1-8 weeks, some never closed) and their one-off prescriptions."""
    for code, _, _ in ACUTE:
        if icpc_matches(code, excluded):
            raise ValueError(f"acute code {code} lies in an outcome or flag codelist")
    # rate by age at the middle of the recorded period (ages change little within the history)
    mid = (cohort.lower + np.minimum(cohort.upper, cohort.simulation_end)) // 2
    age = cohort.age_at(mid)
    rate = ACUTE_RATES[np.searchsorted(ACUTE_RATE_AGES, age, side="right") - 1]
    owner, day = poisson_days(rng, cohort.lower, cohort.upper, rate)
    age_event = cohort.age_at(day, owner)
    group = np.where(age_event < 18, 0, np.where(age_event < 65, 1, 2))
    weights = np.array([w for _, w, _ in ACUTE])  # (codes, 3)
    which = choose(rng, weights.T[group], owner.size)
    codes = np.array([c for c, _, _ in ACUTE])
    length = rng.integers(7, 57, owner.size)
    end = np.where(rng.random(owner.size) < ACUTE_UNCLOSED, NO_END, day + length)
    end = np.where(end >= cohort.until[owner], NO_END, end)
    episodes = Rows({"patient": owner, "icpc": codes[which], "start": day, "end": end})
    rx_parts = []
    for position, (_, _, drugs) in enumerate(ACUTE):
        rows = np.flatnonzero(which == position)
        u = rng.random(rows.size)
        cumulative = 0.0
        for atc, probability in drugs:
            chosen = rows[(u >= cumulative) & (u < cumulative + probability)]
            cumulative += probability
            inhaler = atc.startswith("R03")
            rx_parts.append(
                Rows(
                    {
                        "patient": owner[chosen],
                        "atc": np.full(chosen.size, atc),
                        "day": day[chosen],
                        "quantity": np.full(chosen.size, 1.0 if inhaler else 20.0),
                        "duration": np.full(chosen.size, 30 if inhaler else 7, dtype=np.int64),
                    }
                )
            )
    return episodes, Rows.concat(rx_parts, ("patient", "atc", "day", "quantity", "duration"))


def check_codes(saba: tuple[str, ...], ics: tuple[str, ...], beta_blockers: tuple[str, ...]) -> None:
    """The generator's drug codes must mean what the codelists say, or the prevalences would silently drift."""
    for course in COURSES:
        for atc, _ in course.agents:
            is_bb = atc_matches(atc, beta_blockers)
            if course.name.startswith("beta_blocker") != is_bb:
                raise ValueError(f"{course.name}: {atc} and the beta_blockers codelist disagree")
            if course.name == "ics_asthma" and not atc_matches(atc, ics):
                raise ValueError(f"ics_asthma: {atc} is not in the ics codelist")
            if course.name in ("laba_asthma", "montelukast", "lama") and atc_matches(atc, ics + saba):
                raise ValueError(f"{course.name}: {atc} should be neither SABA nor ICS")


def load_codes() -> dict[str, tuple[str, ...]]:
    names = (
        "saba",
        "ics",
        "beta_blockers",
        "chronic_conditions",
        "fall_injury",
        "visual_impairment",
        "hearing_impairment",
        "asthma",
    )
    return {name: codelist_codes(name) for name in names}
