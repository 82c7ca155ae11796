"""The synthetic data generator (omu.synthetic), read as a specification.

Small runs (3 practices x 100-200 patients, 2026Q2:2026Q3) check the contract, determinism and privacy; one
larger run (2 practices x 3000 patients) checks the documented prevalences and the truth.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest

from omu import contract
from omu.contract import FILES, FILES_BY_NAME
from omu.quarters import Quarter, quarter_range
from omu.synthetic import VENDOR_DIALECTS, Dialect, GenerationSummary, generate, write_delivery
from omu.synthetic.reference import codelist_codes

QUARTERS = quarter_range("2026Q2:2026Q3")
SMALL: dict[str, Any] = {"practices": 3, "quarters": QUARTERS, "seed": 11, "patients": (100, 200)}
MANIFEST_KEYS = {
    "contract_version",
    "practice_id",
    "quarter",
    "extracted_on",
    "his_vendor",
    "pseudonym_key_id",
    "files",
}
SIX = (
    "older_than_55",
    "lives_alone",
    "visual_impairment",
    "hearing_impairment",
    "beta_blocker",
    "saba_only_asthma",
)
TRUTH_COLUMNS = [
    "practice_id",
    "patient_id",
    "quarter",
    "reference_date",
    "age",
    "sex",
    "wijk_code",
    *SIX,
    "heavy_reliever_use",
    "score",
    "over_threshold",
    "outcome_probability",
    "outcome_12m",
    # astma-signaal v1 beside it: its flags and notes, its score and whether all four hold
    "age_12_to_40",
    "reliever_use",
    "no_inhaled_corticosteroid",
    "few_practice_contacts",
    "asthma_episode",
    "first_inhaler",
    "score_astma_signaal",
    "over_threshold_astma_signaal",
]


# ---------------------------------------------------------------- helpers: read a delivery as the contract says


def dialect_of(practice_id: str) -> Dialect:
    return VENDOR_DIALECTS[(int(practice_id[1:]) - 1) % len(VENDOR_DIALECTS)]


def read_text(path: Path, dialect: Dialect) -> str:
    return path.read_bytes().decode(dialect.encoding)


def read_raw(path: Path, dialect: Dialect) -> pl.DataFrame:
    """All columns as text, exactly as written (empty field -> null)."""
    return pl.read_csv(io.StringIO(read_text(path, dialect)), separator=dialect.separator, infer_schema=False)


def read_delivery(delivery: Path) -> tuple[dict, dict[str, pl.DataFrame]]:
    """Typed frames (dates, ints, floats; sex F/U read as V/O; decimal comma accepted)."""
    manifest = json.loads((delivery / "manifest.json").read_text(encoding="utf-8"))
    dialect = dialect_of(manifest["practice_id"])
    frames = {}
    for name in manifest["files"]:
        raw = read_raw(delivery / name, dialect)
        raw = raw.rename({c: c.lower() for c in raw.columns})
        casts = []
        for column in FILES_BY_NAME[name].columns:
            col = pl.col(column.name)
            if column.kind == "date":
                casts.append(col.str.strptime(pl.Date, dialect.date_format, strict=True))
            elif column.kind == "int":
                casts.append(col.cast(pl.Int64))
            elif column.kind == "number":
                casts.append(col.str.replace(",", ".", literal=True).cast(pl.Float64))
            elif column.name == "sex":
                casts.append(col.replace(contract.SEX_ALIASES))
        frames[name] = raw.with_columns(casts)
    return manifest, frames


def deliveries(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.glob("P*/*/manifest.json"))


def all_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def eleven_proof(digits: str) -> bool:
    """The BSN 11-proef: sum of digit * (9..2) minus the last digit is divisible by 11."""
    if len(digits) != 9 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(digits[8])
    return total % 11 == 0 and int(digits) > 0


def auc(score: np.ndarray, outcome: np.ndarray) -> float:
    order = np.argsort(score, kind="mergesort")
    ranks = np.empty(score.size)
    sorted_scores = score[order]
    # average ranks for ties
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    average = first + (counts + 1) / 2
    ranks[order] = np.repeat(average, counts)
    positives = outcome.astype(bool)
    n1, n0 = positives.sum(), (~positives).sum()
    return float((ranks[positives].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> tuple[Path, Path, GenerationSummary, list[str]]:
    root = tmp_path_factory.mktemp("small")
    messages: list[str] = []
    summary = generate(root / "landing", truth_dir=root / "truth", progress=messages.append, **SMALL)
    return root / "landing", root / "truth", summary, messages


@pytest.fixture(scope="module")
def large(tmp_path_factory) -> tuple[Path, pl.DataFrame]:
    root = tmp_path_factory.mktemp("large")
    generate(
        root / "landing",
        practices=2,
        quarters=QUARTERS,
        seed=6,
        patients=(3000, 3000),
        truth_dir=root / "truth",
    )
    truth = pl.concat([pl.read_parquet(p) for p in sorted((root / "truth").glob("*.parquet"))])
    return root / "landing", truth


# ---------------------------------------------------------------- determinism


def test_same_call_twice_gives_byte_identical_files(small, tmp_path):
    landing, truth_dir, _, _ = small
    generate(tmp_path / "landing", truth_dir=tmp_path / "truth", **SMALL)
    assert all_bytes(tmp_path / "landing") == all_bytes(landing)
    assert all_bytes(tmp_path / "truth") == all_bytes(truth_dir)


def test_a_practice_does_not_change_when_more_practices_are_asked_for(small, tmp_path):
    landing, _, _, _ = small
    generate(tmp_path / "landing", **{**SMALL, "practices": 1})
    assert all_bytes(tmp_path / "landing" / "P0001") == all_bytes(landing / "P0001")


def test_another_seed_gives_other_data(small, tmp_path):
    landing, _, _, _ = small
    generate(tmp_path / "landing", **{**SMALL, "practices": 1, "seed": 12})
    assert all_bytes(tmp_path / "landing" / "P0001") != all_bytes(landing / "P0001")


# ---------------------------------------------------------------- layout, manifest, summary


def test_one_delivery_per_practice_and_quarter_with_summary_and_progress(small):
    landing, truth_dir, summary, messages = small
    found = deliveries(landing)
    assert [(p.parent.name, p.name) for p in found] == [
        (f"P000{i}", str(q)) for i in (1, 2, 3) for q in QUARTERS
    ]
    assert summary.practices == 3 and summary.deliveries == 6 and len(messages) == 3
    assert summary.truth_dir == truth_dir
    assert sorted(p.name for p in truth_dir.iterdir()) == ["P0001.parquet", "P0002.parquet", "P0003.parquet"]
    total = {}
    for delivery in found:
        for name, entry in json.loads((delivery / "manifest.json").read_text())["files"].items():
            total[name] = total.get(name, 0) + entry["rows"]
    assert summary.rows == total


def test_manifest_matches_the_files(small):
    landing, _, _, _ = small
    for delivery in deliveries(landing):
        manifest = json.loads((delivery / "manifest.json").read_text(encoding="utf-8"))
        assert set(manifest) == MANIFEST_KEYS
        assert manifest["contract_version"] == contract.CONTRACT_VERSION
        assert manifest["practice_id"] == delivery.parent.name
        assert manifest["quarter"] == delivery.name
        assert manifest["his_vendor"] == dialect_of(manifest["practice_id"]).vendor
        assert manifest["pseudonym_key_id"] == "ttp-2026-01"
        quarter = Quarter.parse(manifest["quarter"])
        extracted = dt.date.fromisoformat(manifest["extracted_on"])
        assert (
            quarter.reference_date + dt.timedelta(days=2)
            <= extracted
            <= quarter.reference_date + dt.timedelta(days=20)
        )
        assert set(manifest["files"]) == {f.name for f in FILES}
        assert set(p.name for p in delivery.iterdir()) == {f.name for f in FILES} | {"manifest.json"}
        dialect = dialect_of(manifest["practice_id"])
        for name, entry in manifest["files"].items():
            data = (delivery / name).read_bytes()
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
            assert read_raw(delivery / name, dialect).height == entry["rows"]
            assert entry["rows"] > 0


def test_files_satisfy_the_contract(small):
    landing, _, _, _ = small
    for delivery in deliveries(landing):
        manifest, frames = read_delivery(delivery)
        dialect = dialect_of(manifest["practice_id"])
        extracted = dt.date.fromisoformat(manifest["extracted_on"])
        for spec in FILES:
            header = read_text(delivery / spec.name, dialect).split(dialect.line_ending, 1)[0]
            assert header.split(dialect.separator) == [dialect.header(c) for c in spec.column_names]
            raw = read_raw(delivery / spec.name, dialect)
            for column in spec.columns:
                values = raw[dialect.header(column.name)]
                if column.required:
                    assert values.null_count() == 0, (spec.name, column.name)
                present = values.drop_nulls()
                if column.pattern:
                    assert present.str.contains(column.pattern).all(), (spec.name, column.name)
                if column.kind == "int":
                    assert present.str.contains(contract.INTEGER_PATTERN).all(), (spec.name, column.name)
                if column.kind == "number":
                    assert present.str.contains(contract.NUMBER_PATTERN).all(), (spec.name, column.name)
                if column.kind == "date":
                    date_pattern = (
                        contract.ISO_DATE_PATTERN
                        if dialect.date_format == "%Y-%m-%d"
                        else contract.DUTCH_DATE_PATTERN
                    )
                    assert present.str.contains(date_pattern).all(), (spec.name, column.name)
            frame = frames[spec.name]
            assert frame.height == manifest["files"][spec.name]["rows"]
            assert frame.is_duplicated().sum() == 0, f"exact duplicate rows in {spec.name}"
            for column in spec.columns:
                values = frame[column.name].drop_nulls()
                if column.allowed:
                    assert values.is_in(list(column.allowed)).all(), (spec.name, column.name)
                if column.kind == "date":
                    assert values.min() >= dt.date(1900, 1, 1) and values.max() <= extracted, (
                        spec.name,
                        column.name,
                    )
            if spec.name != "patients.csv":
                assert frame["patient_id"].is_in(frames["patients.csv"]["patient_id"].implode()).all()
        patients = frames["patients.csv"]
        assert patients["patient_id"].is_unique().all()
        assert patients["birth_year"].is_between(1900, extracted.year).all()
        assert patients["birth_month"].drop_nulls().is_between(1, 12).all()
        ended = patients.filter(pl.col("registered_until").is_not_null())
        assert (ended["registered_until"] > ended["registered_from"]).all()
        assert (patients["registered_until"].is_null() == patients["end_reason"].is_null()).all()
        episodes = frames["episodes.csv"].filter(pl.col("end_date").is_not_null())
        assert (episodes["end_date"] >= episodes["start_date"]).all()


def test_patient_ids_are_pseudonyms_that_always_hold_a_letter(small):
    landing, _, _, _ = small
    for delivery in deliveries(landing):
        ids = read_delivery(delivery)[1]["patients.csv"]["patient_id"]
        assert ids.str.len_chars().min() >= 16
        assert ids.str.contains(r"[A-Za-z]").all()
        assert ids.str.contains(r"^[A-Za-z0-9_-]+$").all()


def test_no_direct_identifiers_anywhere(small):
    landing, _, _, _ = small
    nine_digits = re.compile(r"(?<![0-9])[0-9]{9}(?![0-9])")
    postcode6 = re.compile(r"(?<![0-9A-Za-z])[1-9][0-9]{3} ?[A-Za-z]{2}(?![A-Za-z])")
    email = re.compile(r"[^\s@]+@[^\s@]+")
    phone = re.compile(r"(\+31|0031|(?<![0-9])0)[1-9][0-9 -]{7,10}[0-9](?![0-9])")
    forbidden_columns = re.compile(
        r"name|naam|bsn|postcode|birth_date|geboortedatum|phone|telefoon|email|adres", re.IGNORECASE
    )
    for delivery in deliveries(landing):
        dialect = dialect_of(delivery.parent.name)
        for spec in FILES:
            raw = read_raw(delivery / spec.name, dialect)
            assert not any(forbidden_columns.search(c) for c in raw.columns)
            for column in raw.columns:
                for value in raw[column].drop_nulls().unique().to_list():
                    assert not any(eleven_proof(m) for m in nine_digits.findall(value)), value
                    assert not postcode6.search(value), value
                    assert not email.search(value), value
                    if (
                        spec.column_names[raw.columns.index(column)]
                        not in FILES_BY_NAME[spec.name].date_columns
                    ):
                        assert not phone.search(value), value
        pc4 = read_delivery(delivery)[1]["patients.csv"]["pc4"].drop_nulls()
        assert pc4.str.contains(r"^[0-9]{4}$").all()


# ---------------------------------------------------------------- dialects


def test_vendor_dialects_differ_in_every_dimension():
    assert len(VENDOR_DIALECTS) >= 4
    assert {"Medicom", "Promedico", "Microhis", "CGM"} <= {d.vendor for d in VENDOR_DIALECTS}
    for dimension in (
        "separator",
        "encoding",
        "date_format",
        "header_case",
        "decimal_comma",
        "line_ending",
        "female_code",
    ):
        assert len({getattr(d, dimension) for d in VENDOR_DIALECTS}) > 1, dimension
    assert {d.encoding for d in VENDOR_DIALECTS} == {"utf-8", "utf-8-sig", "cp1252"}
    assert {d.header_case for d in VENDOR_DIALECTS} == {"lower", "upper", "title"}


def test_dialects_vary_across_practices(small):
    landing, _, _, _ = small
    seen = {}
    for practice in ("P0001", "P0002", "P0003"):
        delivery = landing / practice / "2026Q3"
        dialect = dialect_of(practice)
        seen[practice] = dialect
        data = (delivery / "determinations.csv").read_bytes()
        patients = (delivery / "patients.csv").read_bytes()
        assert data.startswith(b"\xef\xbb\xbf") == (dialect.encoding == "utf-8-sig")
        text = data.decode(dialect.encoding)
        header = text.lstrip("\ufeff").split(dialect.line_ending, 1)[0]
        assert header == dialect.separator.join(
            dialect.header(c) for c in FILES_BY_NAME["determinations.csv"].column_names
        )
        assert (dialect.line_ending == "\r\n") == (b"\r\n" in data)
        assert "geïnformeerd" in text or "één keer" in text  # non-ASCII answers survive the encoding
        if dialect.encoding == "cp1252":
            with pytest.raises(UnicodeDecodeError):
                data.decode("utf-8")
        weights = [
            line for line in text.splitlines()[1:] if f"{dialect.separator}357{dialect.separator}" in line
        ]
        assert weights
        assert all(
            re.search(r"[0-9]+,[0-9]$" if dialect.decimal_comma else r"[0-9]+\.[0-9]$", w) for w in weights
        )
        first_date = re.search(r"[0-9]{2}-[0-9]{2}-[0-9]{4}|[0-9]{4}-[0-9]{2}-[0-9]{2}", text).group(0)
        assert bool(re.fullmatch(r"[0-9]{4}-.*", first_date)) == (dialect.date_format == "%Y-%m-%d")
        sexes = set(read_raw(delivery / "patients.csv", dialect)[dialect.header("sex")].to_list())
        assert sexes <= ({"M", "F", "U"} if dialect.female_code == "F" else {"M", "V", "O"})
        assert patients  # read
    assert len({d.separator for d in seen.values()}) == 2
    assert len({d.encoding for d in seen.values()}) == 3
    assert len({d.date_format for d in seen.values()}) == 2
    assert len({d.header_case for d in seen.values()}) == 3
    assert len({d.decimal_comma for d in seen.values()}) == 2


# ---------------------------------------------------------------- consistency over quarters


def test_later_delivery_is_a_superset_in_time_with_the_same_pseudonyms(small):
    landing, _, _, _ = small
    for practice in ("P0001", "P0002", "P0003"):
        _, earlier = read_delivery(landing / practice / "2026Q2")
        _, later = read_delivery(landing / practice / "2026Q3")
        fixed = ["patient_id", "birth_year", "birth_month", "sex", "wijk_code", "pc4", "registered_from"]
        joined = (
            earlier["patients.csv"]
            .select(fixed)
            .join(
                later["patients.csv"].select(fixed),
                on="patient_id",
                how="left",
                suffix="_later",
                nulls_equal=True,
            )
        )
        assert joined.height == earlier["patients.csv"].height
        for column in fixed[1:]:
            assert (joined[column].eq_missing(joined[f"{column}_later"])).all(), column
        assert later["patients.csv"].height > earlier["patients.csv"].height
        for name in ("prescriptions.csv", "determinations.csv", "contacts.csv"):
            missing = earlier[name].join(later[name], on=earlier[name].columns, how="anti", nulls_equal=True)
            assert missing.is_empty(), name
        keys = ["patient_id", "icpc", "start_date"]
        assert (
            earlier["episodes.csv"]
            .select(keys)
            .join(later["episodes.csv"].select(keys), on=keys, how="anti")
            .is_empty()
        )


def test_outcome_events_appear_in_the_data(large):
    landing, truth = large
    fall_codes = codelist_codes("fall_injury")
    _, q3 = read_delivery(landing / "P0001" / "2026Q3")
    out_of_hours = q3["contacts.csv"].filter(pl.col("kind") == "huisartsenpost")
    falls = q3["episodes.csv"].filter(pl.col("icpc").str.slice(0, 3).is_in(fall_codes))
    assert out_of_hours.height > 100 and falls.height > 20
    assert (
        falls.filter(pl.col("end_date").is_not_null())
        .select((pl.col("end_date") - pl.col("start_date")).dt.total_days().is_between(30, 120).all())
        .item()
    )
    # an event visible in the 2026Q3 delivery after R(2026Q2) lies within 12 months of R: the truth must say so
    reference = Quarter.parse("2026Q2").reference_date
    seen = pl.concat(
        [
            out_of_hours.select("patient_id", pl.col("contact_on").alias("day")),
            falls.select("patient_id", pl.col("start_date").alias("day")),
        ]
    )
    seen = seen.filter(pl.col("day") > reference)["patient_id"].unique()
    rows = truth.filter(
        (pl.col("practice_id") == "P0001")
        & (pl.col("quarter") == "2026Q2")
        & pl.col("patient_id").is_in(seen.implode())
    )
    assert rows.height > 10 and rows["outcome_12m"].all()


# ---------------------------------------------------------------- the truth


def test_truth_has_one_row_per_registered_patient_per_quarter(small):
    _, truth_dir, _, _ = small
    landing = truth_dir.parent / "landing"
    truth = pl.read_parquet(truth_dir / "P0002.parquet")
    assert truth.columns == TRUTH_COLUMNS
    expected_quarters = [str(q) for q in quarter_range("2024Q2:2026Q3")]
    assert sorted(truth["quarter"].unique().to_list()) == expected_quarters
    assert truth.select("quarter", "patient_id").is_duplicated().sum() == 0
    _, frames = read_delivery(landing / "P0002" / "2026Q3")
    patients = frames["patients.csv"]
    for quarter in (expected_quarters[0], expected_quarters[-1]):
        reference = Quarter.parse(quarter).reference_date
        registered = patients.filter(
            (pl.col("registered_from") <= reference)
            & (pl.col("registered_until").is_null() | (pl.col("registered_until") > reference))
        )
        in_truth = truth.filter(pl.col("quarter") == quarter)
        assert sorted(in_truth["patient_id"].to_list()) == sorted(registered["patient_id"].to_list())
        assert (in_truth["reference_date"] == reference).all()
    first_quarter = truth.filter(pl.col("quarter") == "2026Q2").height
    assert 100 <= first_quarter <= 200  # the practice size is the number registered at the first quarter
    assert (
        truth["score"] == truth.select(pl.sum_horizontal(pl.col(c).cast(pl.Int64) for c in SIX)).to_series()
    ).all()
    assert (truth["over_threshold"] == (truth["score"] >= 3)).all()
    assert (truth["older_than_55"] == (truth["age"] >= 56)).all()
    assert truth["outcome_probability"].is_between(0, 1, closed="left").all()  # 0: leaves the day after R


def _recompute(
    frames: dict[str, pl.DataFrame],
    patient_id: str,
    reference: dt.date,
    saba: tuple[str, ...],
    ics: tuple[str, ...],
) -> dict[str, object]:
    """The profile definitions written out plainly for one patient (docs/screening.md)."""
    patient = frames["patients.csv"].filter(pl.col("patient_id") == patient_id).row(0, named=True)
    age = reference.year - patient["birth_year"]
    if patient["birth_month"] is not None and patient["birth_month"] > reference.month:
        age -= 1
    episodes = frames["episodes.csv"].filter(pl.col("patient_id") == patient_id).to_dicts()
    prescriptions = frames["prescriptions.csv"].filter(pl.col("patient_id") == patient_id).to_dicts()
    determinations = frames["determinations.csv"].filter(pl.col("patient_id") == patient_id).to_dicts()

    def active(codes: tuple[str, ...]) -> bool:
        return any(
            (e["icpc"] in codes or any(e["icpc"].startswith(c + ".") for c in codes))
            and e["start_date"] <= reference
            and (e["end_date"] is None or e["end_date"] >= reference)
            for e in episodes
        )

    def in_window(codes: tuple[str, ...], days: int) -> list[dict]:
        first = reference - dt.timedelta(days=days)
        return [
            p
            for p in prescriptions
            if any(p["atc"].startswith(c) for c in codes) and first <= p["prescribed_on"] <= reference
        ]

    living = sorted(
        (d for d in determinations if d["code"] == 9001 and d["measured_on"] <= reference),
        key=lambda d: d["measured_on"],
    )
    saba_year = in_window(saba, 365)
    flags = {
        "age": age,
        "older_than_55": age >= 56,
        "lives_alone": bool(living) and living[-1]["value"].strip().lower() == "alleen",
        "visual_impairment": active(("F94", "F28")),
        "hearing_impairment": active(("H86", "H28", "H84")),
        "beta_blocker": bool(in_window(("C07",), 180)),
        "saba_only_asthma": active(("R96",)) and bool(saba_year) and not in_window(ics, 365),
        "heavy_reliever_use": sum(1.0 if p["quantity"] is None else p["quantity"] for p in saba_year) >= 3,
    }
    flags["score"] = sum(int(flags[c]) for c in SIX)
    flags["over_threshold"] = flags["score"] >= 3
    return flags


def test_truth_flags_agree_with_a_direct_recomputation(large):
    landing, truth = large
    saba, ics = codelist_codes("saba"), codelist_codes("ics")
    _, frames = read_delivery(landing / "P0001" / "2026Q3")
    truth = truth.filter(pl.col("practice_id") == "P0001")
    # boundary cases: for every flag, patients whose flag changes between quarters; plus a random handful
    changing = truth.sort("patient_id", "quarter").with_columns(
        pl.col(c).cast(pl.Int8).diff().over("patient_id").abs().alias(f"_{c}")
        for c in (*SIX[1:], "heavy_reliever_use")
    )
    chosen: list[str] = []
    for column in (*SIX[1:], "heavy_reliever_use"):
        ids = changing.filter(pl.col(f"_{column}") == 1)["patient_id"].unique(maintain_order=True).head(4)
        assert ids.len() > 0, f"no patient whose {column} changes over time"
        chosen += ids.to_list()
    chosen += truth["patient_id"].unique().sort().sample(8, seed=1).to_list()
    rows = truth.filter(pl.col("patient_id").is_in(chosen)).to_dicts()
    assert len(rows) > 100
    for row in rows:
        expected = _recompute(frames, row["patient_id"], row["reference_date"], saba, ics)
        got = {k: row[k] for k in expected}
        assert got == expected, (row["patient_id"], row["quarter"])


def test_flags_switch_on_and_off_over_time(large):
    _, truth = large
    ordered = truth.sort("practice_id", "patient_id", "quarter")
    for column in (*SIX[1:], "heavy_reliever_use", "over_threshold"):
        step = ordered.select(
            pl.col(column).cast(pl.Int8).diff().over("practice_id", "patient_id")
        ).to_series()
        assert (step == 1).sum() > 0 and (step == -1).sum() > 0, column


def test_prevalences_land_near_the_documented_ones(large):
    landing, truth = large
    last = truth.filter(pl.col("quarter") == "2026Q3")
    old = last.filter(pl.col("age") >= 75)
    assert 0.03 <= old.height / last.height <= 0.12
    assert 0.14 <= old["beta_blocker"].mean() <= 0.28  # about 20% over 75
    assert 0.22 <= old["hearing_impairment"].mean() <= 0.40  # about 30% over 75
    assert 0.32 <= old["lives_alone"].mean() <= 0.50  # about 40% over 75
    assert last.filter(pl.col("age") < 40)["lives_alone"].mean() < 0.10  # much lower when young
    assert last.filter(pl.col("age") < 40)["beta_blocker"].mean() < 0.03
    assert 0.07 <= last["outcome_12m"].mean() <= 0.13  # about 10% overall
    assert 0.22 <= old["outcome_12m"].mean() <= 0.42  # about 25-35% over 75
    assert abs(last["outcome_probability"].mean() - last["outcome_12m"].mean()) < 0.02
    # asthma: an active R96 episode on the reference date, about 7%
    reference = Quarter.parse("2026Q3").reference_date
    asthma = 0
    for practice in ("P0001", "P0002"):
        _, frames = read_delivery(landing / practice / "2026Q3")
        active = frames["episodes.csv"].filter(
            (pl.col("icpc").str.slice(0, 3) == "R96")
            & (pl.col("start_date") <= reference)
            & (pl.col("end_date").is_null() | (pl.col("end_date") >= reference))
        )
        registered = last.filter(pl.col("practice_id") == practice)["patient_id"]
        asthma += active["patient_id"].unique().is_in(registered.implode()).sum()
    assert 0.05 <= asthma / last.height <= 0.10
    assert 0.01 <= last["saba_only_asthma"].mean() <= 0.05


def test_the_six_point_score_is_a_clearly_weaker_predictor_than_the_truth(large):
    _, truth = large
    outcome = truth["outcome_12m"].to_numpy()
    score_auc = auc(truth["score"].to_numpy().astype(float), outcome)
    truth_auc = auc(truth["outcome_probability"].to_numpy(), outcome)
    assert truth_auc >= score_auc + 0.03, (score_auc, truth_auc)


# ---------------------------------------------------------------- write_delivery on hand-made frames


def _tiny_tables() -> dict[str, pl.DataFrame]:
    patients = pl.DataFrame(
        {
            "patient_id": ["pseudoAAAA0001", "pseudoBBBB0002"],
            "birth_year": [1940, 1988],
            "birth_month": [3, None],
            "sex": ["V", "O"],
            "wijk_code": ["WK034403", "WK034409"],
            "pc4": ["3561", None],
            "registered_from": [dt.date(2001, 5, 1), dt.date(2019, 12, 31)],
            "registered_until": [None, dt.date(2026, 8, 1)],
            "end_reason": [None, "verhuisd"],
        },
        schema_overrides={"birth_month": pl.Int32},
    )
    determinations = pl.DataFrame(
        {
            "patient_id": ["pseudoAAAA0001"] * 3,
            "code": [357, 9002, 9001],
            "measured_on": [dt.date(2026, 1, 2)] * 3,
            "value": ["72.5", "geïnformeerd", "met partner; en kat, hond"],
        }
    )
    prescriptions = pl.DataFrame(
        {
            "patient_id": ["pseudoAAAA0001", "pseudoAAAA0001"],
            "atc": ["R03AC02", "C07AB02"],
            "prescribed_on": [dt.date(2026, 3, 4), dt.date(2026, 3, 5)],
            "quantity": [None, 2.5],
            "duration_days": [90, None],
        },
        schema_overrides={"duration_days": pl.Int32},
    )
    return {
        "patients.csv": patients,
        "determinations.csv": determinations,
        "prescriptions.csv": prescriptions,
    }


def test_write_delivery_writes_a_hand_made_delivery_in_two_dialects(tmp_path):
    tables = _tiny_tables()
    medicom = next(d for d in VENDOR_DIALECTS if d.vendor == "Medicom")
    microhis = next(d for d in VENDOR_DIALECTS if d.vendor == "Microhis")
    path = write_delivery(
        tmp_path / "a",
        practice_id="P0009",
        quarter=Quarter(2026, 3),
        extracted_on=dt.date(2026, 10, 3),
        tables=tables,
        dialect=medicom,
    )
    assert path == tmp_path / "a"
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == {
        "contract_version": 1,
        "practice_id": "P0009",
        "quarter": "2026Q3",
        "extracted_on": "2026-10-03",
        "his_vendor": "Medicom",
        "pseudonym_key_id": "ttp-2026-01",
        "files": {
            name: {
                "rows": tables[name].height,
                "sha256": hashlib.sha256((path / name).read_bytes()).hexdigest(),
            }
            for name in ("patients.csv", "prescriptions.csv", "determinations.csv")
        },
    }
    assert list(manifest["files"]) == [
        "patients.csv",
        "prescriptions.csv",
        "determinations.csv",
    ]  # contract order
    assert (path / "patients.csv").read_bytes() == (
        "\ufeffpatient_id;birth_year;birth_month;sex;wijk_code;pc4;registered_from;registered_until;end_reason\r\n"
        "pseudoAAAA0001;1940;3;V;WK034403;3561;01-05-2001;;\r\n"
        "pseudoBBBB0002;1988;;O;WK034409;;31-12-2019;01-08-2026;verhuisd\r\n"
    ).encode("utf-8")
    assert (path / "determinations.csv").read_bytes().decode("utf-8-sig") == (
        "patient_id;code;measured_on;value\r\n"
        "pseudoAAAA0001;357;02-01-2026;72,5\r\n"
        "pseudoAAAA0001;9002;02-01-2026;geïnformeerd\r\n"
        'pseudoAAAA0001;9001;02-01-2026;"met partner; en kat, hond"\r\n'
    )
    assert (path / "prescriptions.csv").read_bytes().decode("utf-8-sig").splitlines()[1:] == [
        "pseudoAAAA0001;R03AC02;04-03-2026;;90",
        "pseudoAAAA0001;C07AB02;05-03-2026;2,5;",
    ]

    other = write_delivery(
        tmp_path / "b",
        practice_id="P0009",
        quarter="2026Q3",
        extracted_on=dt.date(2026, 10, 3),
        tables=tables,
        dialect=microhis,
        his_vendor="Microhis (HIS Bricks)",
        pseudonym_key_id="ttp-2027-02",
    )
    manifest = json.loads((other / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["his_vendor"] == "Microhis (HIS Bricks)" and manifest["pseudonym_key_id"] == "ttp-2027-02"
    data = (other / "determinations.csv").read_bytes()
    assert "geïnformeerd".encode("cp1252") in data and not data.startswith(b"\xef\xbb\xbf")
    assert data.decode("cp1252").splitlines()[0] == "Patient_Id;Code;Measured_On;Value"
    patients = (other / "patients.csv").read_bytes().decode("cp1252").splitlines()
    assert patients[1].split(";")[3] == "F" and patients[2].split(";")[3] == "U"  # this vendor writes F and U

    cgm = next(d for d in VENDOR_DIALECTS if d.vendor == "CGM")  # ',' as separator AND a decimal comma
    third = write_delivery(
        tmp_path / "c",
        practice_id="P0009",
        quarter="2026Q3",
        extracted_on=dt.date(2026, 10, 3),
        tables=tables,
        dialect=cgm,
    )
    back = read_raw(third / "determinations.csv", cgm)
    assert back["value"].to_list() == ["72,5", "geïnformeerd", "met partner; en kat, hond"]
    assert read_raw(third / "prescriptions.csv", cgm)["quantity"].to_list() == [None, "2,5"]


def test_write_delivery_accepts_any_subset_of_files_and_columns(tmp_path):
    dialect = VENDOR_DIALECTS[1]
    tables = {
        "patients.csv": pl.DataFrame({"birth_year": [1950], "patient_id": ["only-two-columns"]}),
        "episodes.csv": pl.DataFrame(
            schema={"patient_id": pl.String, "icpc": pl.String, "start_date": pl.Date}
        ),
        "notes.csv": pl.DataFrame({"x": ["extra file"]}),
    }
    path = write_delivery(
        tmp_path / "d",
        practice_id="P0001",
        quarter="2026Q3",
        extracted_on=dt.date(2026, 10, 2),
        tables=tables,
        dialect=dialect,
        contract_version=2,
    )
    manifest = json.loads((path / "manifest.json").read_text())
    assert manifest["contract_version"] == 2
    assert manifest["files"]["episodes.csv"]["rows"] == 0
    assert (path / "episodes.csv").read_text() == "PATIENT_ID,ICPC,START_DATE\n"
    assert (path / "patients.csv").read_text() == "PATIENT_ID,BIRTH_YEAR\nonly-two-columns,1950\n"
    assert (path / "notes.csv").read_text() == "X\nextra file\n"
