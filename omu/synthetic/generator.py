"""generate(): synthetic Utrecht practices, one delivery per practice and quarter, plus the hidden truth."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl

from omu.quarters import Quarter
from omu.synthetic import clinical, loop, outcome, social
from omu.synthetic._util import (
    DAYS_PER_YEAR,
    choose,
    date_expr,
    day_number,
    rng_for,
    year_month,
)
from omu.synthetic.dialects import VENDOR_DIALECTS
from omu.synthetic.population import (
    BIRTH_MONTH_KNOWN,
    END_REASONS,
    PC4_MISSING,
    SEX_CODES,
    simulate_registration,
)
from omu.synthetic.reference import ASTHMA_PROFILE, Wijk, load_wijken
from omu.synthetic.truth import Evaluation, TruthProfile, evaluate
from omu.synthetic.writer import write_delivery

TRUTH_QUARTERS_BEFORE = 8  # the truth starts 8 quarters before the first requested quarter
FUTURE_QUARTERS = 5  # simulated after the last requested quarter, for the 12-month outcome
EXTRACTION_DELAY_DAYS = (2, 20)
PSEUDONYM_LENGTH = 20
_ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", dtype=np.uint8)

# random streams per practice (seeded from (seed, practice number, stream))
(
    S_PRACTICE,
    S_EXTRACT,
    S_REGISTRATION,
    S_THIN,
    S_ATTRIBUTES,
    S_PSEUDONYM,
    S_CONDITIONS,
    S_COURSES,
    S_RELIEVERS,
    S_ACUTE,
    S_LIVING,
    S_MEASURE,
    S_CONTACTS,
    S_OUTCOME,
    S_OUTCOME_ROWS,
    S_RELIEVER_ONLY,
    S_LOOP,
) = range(17)

TRUTH_COLUMNS = (
    "practice_id",
    "patient_id",
    "quarter",
    "reference_date",
    "age",
    "sex",
    "wijk_code",
    "older_than_55",
    "lives_alone",
    "visual_impairment",
    "hearing_impairment",
    "beta_blocker",
    "saba_only_asthma",
    "heavy_reliever_use",
    "score",
    "over_threshold",
    "outcome_probability",
    "outcome_12m",
    # astma-signaal v1, side by side
    "age_12_to_40",
    "reliever_use",
    "no_inhaled_corticosteroid",
    "few_practice_contacts",
    "asthma_episode",
    "first_inhaler",
    "score_astma_signaal",
    "over_threshold_astma_signaal",
)


@dataclass(frozen=True)
class GenerationSummary:
    practices: int
    deliveries: int  # deliveries written (practices x quarters)
    rows: dict[str, int]  # data rows per file name, summed over all deliveries
    truth_dir: Path | None
    out_dir: Path
    patients_at_first_quarter: int = 0
    seconds: float = 0.0
    delivery_dirs: tuple[Path, ...] = field(default=(), repr=False)


@dataclass
class _Reference:
    wijken: tuple[Wijk, ...]
    codes: dict[str, tuple[str, ...]]
    profile: TruthProfile
    side_profiles: tuple[TruthProfile, ...] = ()  # profiles whose truth columns sit beside the default's

    @classmethod
    def load(cls) -> _Reference:
        codes = clinical.load_codes()
        clinical.check_codes(codes["saba"], codes["ics"], codes["beta_blockers"])
        return cls(load_wijken(), codes, TruthProfile.load(), (TruthProfile.load(ASTHMA_PROFILE),))


def practice_id(number: int) -> str:
    return f"P{number:04d}"


def pseudonyms(rng: np.random.Generator, n: int, length: int = PSEUDONYM_LENGTH) -> np.ndarray:
    """n distinct pseudonyms of [A-Za-z0-9_-]; every 4th character (from the first) is a letter, so a value is
    never a digit string and holds no run of more than 3 digits (no BSN-, phone- or postcode-like run)."""
    any_char = rng.integers(0, 64, size=(n, length), dtype=np.uint8)
    letter = rng.integers(0, 52, size=(n, length), dtype=np.uint8)
    index = np.where((np.arange(length) % 4 == 0)[None, :], letter, any_char)
    values = np.ascontiguousarray(_ALPHABET[index]).view(f"S{length}").ravel().astype(f"U{length}")
    if np.unique(values).size != n:  # astronomically unlikely; refuse rather than write duplicates
        raise RuntimeError("pseudonym collision; use another seed")
    return values


def _quarters(quarters: Sequence[Quarter | str]) -> list[Quarter]:
    parsed = sorted({q if isinstance(q, Quarter) else Quarter.parse(str(q)) for q in quarters})
    if not parsed:
        raise ValueError("no quarters asked for")
    return parsed


def _span(first: Quarter, last: Quarter) -> list[Quarter]:
    out = [first]
    while out[-1] < last:
        out.append(out[-1].next())
    return out


def _frame(columns: dict[str, np.ndarray], ids: pl.Series, dates: tuple[str, ...]) -> pl.DataFrame:
    patient = columns["patient"].astype(np.int64)
    data = {"_p": patient, "patient_id": ids.gather(patient)}
    for name, values in columns.items():
        if name != "patient":
            data[name] = values
    frame = pl.DataFrame(data)
    return frame.with_columns(date_expr(c) for c in dates)


@dataclass
class _Practice:
    number: int
    practice_id: str
    dialect_index: int
    tables: dict[str, pl.DataFrame]  # full history incl. the future, with internal column _p
    extracted_on: dict[Quarter, dt.date]
    truth: pl.DataFrame | None
    patients_at_first_quarter: int
    outreach: pl.DataFrame | None = None  # the simulated loop's outcomes (loop.outcome_rows), when asked for


def _simulate_practice(
    number: int,
    quarters: list[Quarter],
    seed: int,
    size: tuple[int, int],
    history_years: int,
    ref: _Reference,
    want_truth: bool,
    outreach: loop.OutreachLoop | None = None,
) -> _Practice:
    pid = practice_id(number)
    rng = rng_for(seed, number, S_PRACTICE)
    population_weights = np.array([w.population for w in ref.wijken])
    home = int(choose(rng, population_weights, 1)[0])
    target = int(rng.integers(size[0], size[1] + 1))
    first, last = quarters[0], quarters[-1]
    sim_quarters = _span(first.shift(-4 * history_years), last.shift(FUTURE_QUARTERS))
    starts = np.array([day_number(q.start) for q in sim_quarters], dtype=np.int64)
    ends = np.array([day_number(q.reference_date) for q in sim_quarters], dtype=np.int64)
    extracted = {}
    for q in quarters:
        delay = int(
            rng_for(seed, number, S_EXTRACT, q.year * 4 + q.q - 1).integers(
                EXTRACTION_DELAY_DAYS[0], EXTRACTION_DELAY_DAYS[1] + 1
            )
        )
        extracted[q] = q.reference_date + dt.timedelta(days=delay)
    last_extraction = day_number(max(extracted.values()))

    pop = simulate_registration(
        rng_for(seed, number, S_REGISTRATION),
        ref.wijken,
        home,
        target,
        sim_quarters,
        day_number(first.reference_date),
        rng_for(seed, number, S_THIN),
    )
    n = pop.n
    attributes = rng_for(seed, number, S_ATTRIBUTES)
    month_known = attributes.random(n) < BIRTH_MONTH_KNOWN
    pc4_pick = attributes.random(n)
    pc4_missing = attributes.random(n) < PC4_MISSING
    pc4 = np.full(n, None, dtype=object)
    for w_index, wijk in enumerate(ref.wijken):
        rows = np.flatnonzero((pop.wijk == w_index) & ~pc4_missing)
        if wijk.pc4 and rows.size:
            options = np.array(wijk.pc4, dtype=object)
            pc4[rows] = options[np.minimum((pc4_pick[rows] * len(options)).astype(int), len(options) - 1)]
    ids = pl.Series("patient_id", pseudonyms(rng_for(seed, number, S_PSEUDONYM), n))

    history_start = int(starts[0])
    simulation_end = int(ends[-1]) + 1
    cohort = clinical.Cohort(
        birth=pop.birth,
        sex=pop.sex,
        deprivation=np.array([w.deprivation_level for w in ref.wijken])[pop.wijk],
        registered_from=pop.registered_from,
        until=pop.until,
        lower=np.maximum(pop.registered_from, history_start),
        upper=np.minimum(pop.until, simulation_end),
        history_start=history_start,
        simulation_end=simulation_end,
    )
    codes = ref.codes
    intervals, chronic_episodes = clinical.conditions(
        rng_for(seed, number, S_CONDITIONS), cohort, codes["chronic_conditions"]
    )
    courses = clinical.courses(rng_for(seed, number, S_COURSES), cohort, intervals)
    relievers = clinical.relievers(rng_for(seed, number, S_RELIEVERS), cohort, intervals, codes["saba"])
    reliever_only, avoiders = clinical.reliever_only(
        rng_for(seed, number, S_RELIEVER_ONLY), cohort, intervals, codes["saba"]
    )
    excluded = (
        codes["fall_injury"] + codes["visual_impairment"] + codes["hearing_impairment"] + codes["asthma"]
    )
    acute_episodes, acute_rx = clinical.acute(rng_for(seed, number, S_ACUTE), cohort, excluded)
    living = social.living_situation(rng_for(seed, number, S_LIVING), cohort, sim_quarters)
    measured = social.measurements(rng_for(seed, number, S_MEASURE), cohort, intervals)
    chronic_keys = tuple(c for c in codes["chronic_conditions"] if c in intervals)
    routine = social.contacts(
        rng_for(seed, number, S_CONTACTS), cohort, sim_quarters, intervals, chronic_keys, last_extraction + 1
    )
    routine = clinical.avoid_practice(rng_for(seed, number, S_RELIEVER_ONLY, 1), routine, avoiders)

    birth_year, birth_month = year_month(pop.birth)
    patients = pl.DataFrame(
        {
            "_p": np.arange(n, dtype=np.int64),
            "patient_id": ids,
            "birth_year": birth_year.astype(np.int32),
            "birth_month": pl.Series(np.where(month_known, birth_month, 0).astype(np.int32)),
            "sex": SEX_CODES[pop.sex],
            "wijk_code": np.array([w.code for w in ref.wijken])[pop.wijk],
            "pc4": pl.Series(pc4.tolist(), dtype=pl.String),
            "registered_from": pop.registered_from,
            "registered_until": pop.until,
            "end_reason": pl.Series(END_REASONS[pop.end_reason]),
        }
    ).with_columns(
        pl.when(pl.col("birth_month") > 0).then(pl.col("birth_month")).alias("birth_month"),
        pl.when(pl.col("end_reason") != "").then(pl.col("end_reason")).alias("end_reason"),
        date_expr("registered_from"),
        date_expr("registered_until"),
    )

    def episodes_frame(parts: list[dict[str, np.ndarray]]) -> pl.DataFrame:
        cols = {k: np.concatenate([p[k] for p in parts]) for k in ("patient", "icpc", "start", "end")}
        frame = _frame(
            {
                "patient": cols["patient"],
                "icpc": cols["icpc"].astype(str),
                "start_date": cols["start"],
                "end_date": cols["end"],
            },
            ids,
            ("start_date", "end_date"),
        )
        return frame

    rx = clinical.Rows.concat(
        [courses, relievers, reliever_only, acute_rx], ("patient", "atc", "day", "quantity", "duration")
    )
    prescriptions = _frame(
        {
            "patient": rx.columns["patient"],
            "atc": rx.columns["atc"].astype(str),
            "prescribed_on": rx.columns["day"],
            "quantity": rx.columns["quantity"].astype(float),
            "duration_days": rx.columns["duration"].astype(np.int32),
        },
        ids,
        ("prescribed_on",),
    )
    prescriptions = prescriptions.with_columns(pl.col("quantity").fill_nan(None))
    det = clinical.Rows.concat([living, measured], ("patient", "code", "day", "value"))
    determinations = _frame(
        {
            "patient": det.columns["patient"],
            "code": det.columns["code"].astype(np.int32),
            "measured_on": det.columns["day"],
            "value": det.columns["value"].astype(str),
        },
        ids,
        ("measured_on",),
    )
    # one determination per patient, code and date (the first drawn wins)
    determinations = determinations.unique(
        subset=["_p", "code", "measured_on"], keep="first", maintain_order=True
    )
    base_episodes = [chronic_episodes.columns, acute_episodes.columns]
    episodes = episodes_frame(base_episodes)

    # ---- the hidden outcome: hazard from the state observed in the rows at each quarter's start - 1 day
    state_days = np.concatenate([starts - 1, ends[-1:]])
    tables = {
        "patients.csv": patients,
        "episodes.csv": episodes,
        "prescriptions.csv": prescriptions,
        "determinations.csv": determinations,
    }
    state = evaluate(tables, state_days, ref.profile, with_state=True)
    deprivation_of = {w.code: w.deprivation_level for w in ref.wijken}
    deprivation = patients["wijk_code"].replace_strict(deprivation_of, default=1).to_numpy()
    female = (patients["sex"] == "V").to_numpy().astype(float)
    nq = len(sim_quarters)
    lp = outcome.linear_predictor(
        state.age[:, :nq],
        female[:, None],
        {k: v[:, :nq] for k, v in state.flags.items()},
        deprivation[:, None],
        state.extra["n_chronic"][:, :nq],
        state.extra["n_medicines"][:, :nq],
    )
    looped = None
    if outreach is not None:  # column j + 1 of the state is the end of simulated quarter j
        over_at_end = state.over_threshold[:, 1 : nq + 1] & state.registered[:, 1 : nq + 1]
        looped = loop.simulate_loop(
            rng_for(seed, number, S_LOOP), over_at_end, sim_quarters, quarters, starts, outreach
        )
        lp = lp + loop.effect_on_linear_predictor(looped, nq, outreach)
    sim = outcome.simulate(rng_for(seed, number, S_OUTCOME), lp, pop.registered_from, pop.until, starts, ends)
    event_age = (sim.event_day - pop.birth[sim.event_patient]) / DAYS_PER_YEAR
    fall_episodes, out_of_hours = outcome.outcome_rows(
        rng_for(seed, number, S_OUTCOME_ROWS), sim, event_age, pop.until, codes["fall_injury"]
    )
    episodes = episodes_frame(base_episodes + [fall_episodes])
    contact_rows = clinical.Rows.concat([routine, clinical.Rows(out_of_hours)], ("patient", "day", "kind"))
    contacts = _frame(
        {
            "patient": contact_rows.columns["patient"],
            "contact_on": contact_rows.columns["day"],
            "kind": contact_rows.columns["kind"].astype(str),
        },
        ids,
        ("contact_on",),
    )

    tables = {
        "patients.csv": patients,
        "episodes.csv": episodes.sort("_p", "start_date", "icpc", maintain_order=True).unique(
            maintain_order=True
        ),
        "prescriptions.csv": prescriptions.sort("_p", "prescribed_on", "atc", maintain_order=True).unique(
            maintain_order=True
        ),
        "determinations.csv": determinations.sort("_p", "measured_on", "code", maintain_order=True),
        "contacts.csv": contacts.sort("_p", "contact_on", "kind", maintain_order=True).unique(
            maintain_order=True
        ),
    }
    result = _Practice(
        number,
        pid,
        (number - 1) % len(VENDOR_DIALECTS),
        tables,
        extracted,
        None,
        int(
            (
                (pop.registered_from <= day_number(first.reference_date))
                & (pop.until > day_number(first.reference_date))
            ).sum()
        ),
    )
    if looped is not None:
        result.outreach = loop.outcome_rows(looped, ids, sim_quarters, pid)
    if want_truth:
        result.truth = _truth(
            result,
            quarters,
            sim_quarters,
            sim,
            pop.registered_from,
            pop.until,
            starts,
            ends,
            ref.profile,
            ref.side_profiles,
        )
        if result.outreach is not None:  # the loop's outcome on the row of the listing quarter
            result.truth = result.truth.join(
                result.outreach.select("patient_id", "quarter", pl.col("outcome").alias("outreach")),
                on=["patient_id", "quarter"],
                how="left",
            )
    return result


def delivery_tables(tables: dict[str, pl.DataFrame], extracted_on: dt.date) -> dict[str, pl.DataFrame]:
    """What the HIS holds on the extraction date: patients registered by then, events dated up to it; end dates
    (registration, episodes) that lie after it are not known yet and are empty. Keeps the internal column _p."""
    x = extracted_on
    patients = tables["patients.csv"].filter(pl.col("registered_from") <= x)
    ended = pl.col("registered_until") <= x
    patients = patients.with_columns(
        pl.when(ended).then(pl.col("registered_until")).alias("registered_until"),
        pl.when(ended).then(pl.col("end_reason")).alias("end_reason"),
    )
    keep = patients["_p"].implode()
    out = {"patients.csv": patients}
    for name, column in (
        ("episodes.csv", "start_date"),
        ("prescriptions.csv", "prescribed_on"),
        ("determinations.csv", "measured_on"),
        ("contacts.csv", "contact_on"),
    ):
        frame = tables[name].filter((pl.col(column) <= x) & pl.col("_p").is_in(keep))
        if name == "episodes.csv":
            frame = frame.with_columns(
                pl.when(pl.col("end_date") <= x).then(pl.col("end_date")).alias("end_date")
            ).unique(maintain_order=True)
        out[name] = frame
    return out


def _public(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    return {name: frame.drop("_p") for name, frame in tables.items()}


def _truth(
    practice: _Practice,
    quarters: list[Quarter],
    sim_quarters: list[Quarter],
    sim: outcome.OutcomeSimulation,
    registered_from: np.ndarray,
    until: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    profile: TruthProfile,
    side_profiles: tuple[TruthProfile, ...] = (),
) -> pl.DataFrame:
    """One row per patient registered at R, per quarter from 8 before the first requested one to the last; the
    flags recomputed from the rows of the last delivery (the frames written), never from the generator's intent."""
    last = quarters[-1]
    frames = delivery_tables(practice.tables, practice.extracted_on[last])
    first_truth = max(quarters[0].shift(-TRUTH_QUARTERS_BEFORE), sim_quarters[0])
    truth_quarters = _span(first_truth, last)
    positions = [sim_quarters.index(q) for q in truth_quarters]
    ev: Evaluation = evaluate(_public(frames), [q.reference_date for q in truth_quarters], profile)
    internal = frames["patients.csv"]["_p"].to_numpy()
    n_all = registered_from.size
    probability = np.stack(
        [outcome.probability_12m(sim, registered_from, until, starts, ends, k) for k in positions], axis=1
    )[internal]
    happened = np.stack([outcome.happened_12m(sim, n_all, int(ends[k])) for k in positions], axis=1)[internal]
    rows, cols = np.nonzero(ev.registered)
    patients = frames["patients.csv"]
    data = {
        "practice_id": np.full(rows.size, practice.practice_id),
        "patient_id": patients["patient_id"].gather(rows),
        "quarter": np.array([str(q) for q in truth_quarters])[cols],
        "reference_date": pl.Series([q.reference_date for q in truth_quarters]).gather(cols),
        "age": ev.age[rows, cols].astype(np.int32),
        "sex": patients["sex"].gather(rows),
        "wijk_code": patients["wijk_code"].gather(rows),
    }
    for name, values in {**ev.flags, **ev.notes}.items():
        data[name] = values[rows, cols]
    data["score"] = ev.score[rows, cols]
    data["over_threshold"] = ev.over_threshold[rows, cols]
    for side in side_profiles:  # e.g. astma-signaal: its flags by id, score_<name> and over_threshold_<name>
        other = evaluate(_public(frames), [q.reference_date for q in truth_quarters], side)
        for name, values in {**other.flags, **other.notes}.items():
            data[name] = values[rows, cols]
        suffix = side.name.replace("-", "_")
        data[f"score_{suffix}"] = other.score[rows, cols]
        data[f"over_threshold_{suffix}"] = other.over_threshold[rows, cols]
    data["outcome_probability"] = probability[rows, cols]
    data["outcome_12m"] = happened[rows, cols]
    frame = pl.DataFrame(data)
    ordered = [c for c in TRUTH_COLUMNS if c in frame.columns] + [
        c for c in frame.columns if c not in TRUTH_COLUMNS
    ]
    return frame.select(ordered).sort("quarter", "patient_id")


def generate(
    out_dir: Path,
    *,
    practices: int,
    quarters: Sequence[Quarter],
    seed: int,
    patients: tuple[int, int] = (2000, 12000),
    truth_dir: Path | None = None,
    history_years: int = 5,
    progress: Callable[[str], None] | None = None,
    outreach: loop.OutreachLoop | None = None,
    outcomes_dir: Path | None = None,
) -> GenerationSummary:
    """Write one delivery per practice and quarter at out_dir/<practice_id>/<quarter>/ (practice ids P0001, ...),
    and, when truth_dir is given, truth_dir/<practice_id>.parquet. Deterministic for a seed; practice i depends
    only on (seed, i), its size range, the quarters and history_years."""
    began = time.perf_counter()
    if practices < 1:
        raise ValueError("practices must be at least 1")
    if seed < 0:
        raise ValueError("seed must be a non-negative integer")
    low, high = int(patients[0]), int(patients[1])
    if not 1 <= low <= high:
        raise ValueError(f"patients must be (MIN, MAX) with 1 <= MIN <= MAX, not {patients!r}")
    if history_years < 1:
        raise ValueError("history_years must be at least 1")
    wanted = _quarters(quarters)
    out_dir = Path(out_dir)
    if truth_dir is not None:
        truth_dir = Path(truth_dir)
        if truth_dir.resolve().is_relative_to(out_dir.resolve()):
            raise ValueError("truth_dir must lie outside the landing folder (the pipeline must never see it)")
        truth_dir.mkdir(parents=True, exist_ok=True)
    if outcomes_dir is not None:
        outcomes_dir = Path(outcomes_dir)
        if outreach is None:
            raise ValueError("outcomes_dir needs an outreach loop to simulate")
        if outcomes_dir.resolve().is_relative_to(out_dir.resolve()):
            raise ValueError("outcomes_dir must lie outside the landing folder")
    ref = _Reference.load()
    rows: dict[str, int] = {}
    written: list[Path] = []
    at_first = 0
    for number in range(1, practices + 1):
        practice = _simulate_practice(
            number, wanted, seed, (low, high), history_years, ref, truth_dir is not None, outreach
        )
        dialect = VENDOR_DIALECTS[practice.dialect_index]
        for q in wanted:
            frames = _public(delivery_tables(practice.tables, practice.extracted_on[q]))
            path = write_delivery(
                out_dir / practice.practice_id / str(q),
                practice_id=practice.practice_id,
                quarter=q,
                extracted_on=practice.extracted_on[q],
                tables=frames,
                dialect=dialect,
            )
            written.append(path)
            for name, frame in frames.items():
                rows[name] = rows.get(name, 0) + frame.height
        if outcomes_dir is not None and practice.outreach is not None:
            loop.write_outcome_files(outcomes_dir, practice.outreach, practice.practice_id)
        if truth_dir is not None and practice.truth is not None:
            practice.truth.write_parquet(truth_dir / f"{practice.practice_id}.parquet")
        at_first += practice.patients_at_first_quarter
        if progress is not None:
            progress(
                f"{practice.practice_id}: {practice.patients_at_first_quarter} patients, "
                f"{len(wanted)} deliveries ({dialect.vendor})"
            )
    return GenerationSummary(
        practices=practices,
        deliveries=len(written),
        rows=rows,
        truth_dir=truth_dir,
        out_dir=out_dir,
        patients_at_first_quarter=at_first,
        seconds=time.perf_counter() - began,
        delivery_dirs=tuple(written),
    )
