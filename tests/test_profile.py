"""Screening profiles are data: the default loads, a broken one is refused with a clear message, and
a region's own profile may add characteristics without any code."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from omu.home import OmuHome
from omu.screening.profile import (
    CODELISTS_DIR,
    DEFAULT_PROFILE,
    PROFILES_DIR,
    ProfileError,
    load_codelist,
    load_profile,
)
from omu.synthetic import VENDOR_DIALECTS, write_delivery
from tests.test_screening_spec import load_and_screen

D = dt.date


def test_the_default_profile_is_omu_basis_version_1():
    profile = load_profile()
    assert (profile.name, profile.version, profile.threshold, profile.backfill_quarters) == (
        "omu-basis",
        1,
        3,
        4,
    )
    assert [c.id for c in profile.scored] == [
        "older_than_55",
        "lives_alone",
        "visual_impairment",
        "hearing_impairment",
        "beta_blocker",
        "saba_only_asthma",
    ]
    assert all(c.weight == 1 for c in profile.scored)
    assert set(profile.codelists) == {
        "living_alone",
        "visual_impairment",
        "hearing_impairment",
        "asthma",
        "beta_blockers",
        "saba",
        "ics",
    }


def test_every_codelist_has_code_description_and_source():
    for path in CODELISTS_DIR.glob("*.csv"):
        frame = pl.read_csv(path, infer_schema=False)
        assert {"code", "description", "source"} <= set(frame.columns), path.name
        assert frame["description"].null_count() == 0 and frame["source"].null_count() == 0, path.name


def test_the_living_alone_codelist_says_it_is_local():
    frame = load_codelist("living_alone", "nhg45")
    assert frame.select("code", "value").rows() == [("9001", "alleen")]
    assert "LOCAL" in frame["description"][0]


def broken(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load(DEFAULT_PROFILE.read_text())
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _criterion(raw, index, **changes):
    raw["characteristics"][index]["criteria"][0].update(changes)


BROKEN = {
    "unknown codelist": (
        lambda raw: _criterion(raw, 2, codelist="blindness"),
        "unknown codelist 'blindness'",
    ),
    "negative window": (lambda raw: _criterion(raw, 4, window_days=-180), "window_days must be 0 or more"),
    "missing weight": (lambda raw: raw["characteristics"][0].pop("weight"), "older_than_55: missing weight"),
    "unknown characteristic type": (
        lambda raw: _criterion(raw, 0, type="age_above"),
        "unknown characteristic type 'age_above'",
    ),
    "a parameter the type lacks": (
        lambda raw: raw["characteristics"][4]["criteria"][0].pop("window_days"),
        "prescription needs window_days",
    ),
    "a parameter the type does not take": (
        lambda raw: _criterion(raw, 0, window_days=30),
        "age_at_least does not take window_days",
    ),
    "an id that is no column name": (
        lambda raw: raw["characteristics"][0].update(id="Older than 55"),
        "an id is lower-case letters",
    ),
    "the same id twice": (lambda raw: raw["characteristics"][1].update(id="older_than_55"), "used twice"),
    "no threshold": (lambda raw: raw.pop("threshold"), "missing 'threshold'"),
    "a next step about an unknown characteristic": (
        lambda raw: raw["characteristics"][4]["next_steps"][1].update({"with": "over_55"}),
        "unknown characteristic 'over_55'",
    ),
}


@pytest.mark.parametrize("case", BROKEN)
def test_a_broken_profile_is_refused_with_a_clear_message(tmp_path, case):
    change, words = BROKEN[case]
    with pytest.raises(ProfileError) as refused:
        load_profile(broken(tmp_path, change))
    assert words in str(refused.value)
    assert "broken.yaml" in str(refused.value)


def test_a_codelist_code_of_the_wrong_shape_is_refused(tmp_path):
    (tmp_path / "asthma.csv").write_text("code,description,source\nR 96,astma,test\n")
    with pytest.raises(ProfileError, match=r"asthma.csv, line 2: 'R 96' is not a ICPC code"):
        load_codelist("asthma", "icpc", tmp_path)


REGIONAL_PROFILE = """
name: utrecht-regio
version: 2
threshold: 2
backfill_quarters: 1
characteristics:
  - {id: older_than_75, label: ouder dan 75, weight: 1, criteria: [{type: age_at_least, years: 76}]}
  - id: many_medicines
    label: vijf of meer geneesmiddelen
    weight: 1
    criteria: [{type: distinct_medicines, window_days: 365, min_count: 5}]
  - id: no_contact_3_years
    label: al 3 jaar geen contact
    weight: 1
    criteria: [{type: contact, window_days: 1095, absent: true}]
  - id: recent_fall
    label: gevallen in het afgelopen jaar
    weight: 2
    criteria: [{type: episode_started, codelist: fall_injury, window_days: 365}]
"""


def test_a_regional_profile_adds_characteristics_without_code(tmp_path):
    profile_path = tmp_path / "utrecht-regio-v2.yaml"
    profile_path.write_text(REGIONAL_PROFILE)
    ids = ["regioA000000001", "regioB000000002", "regioC000000003"]
    tables = {
        "patients.csv": pl.DataFrame(
            {
                "patient_id": ids,
                "birth_year": [1940, 1960, 1990],
                "sex": ["V", "M", "O"],
                "wijk_code": ["WK034410"] * 3,
                "registered_from": [D(2000, 1, 1)] * 3,
            }
        ),
        "episodes.csv": pl.DataFrame(
            {"patient_id": [ids[1]], "icpc": ["L75"], "start_date": [D(2026, 5, 1)]}
        ),
        "prescriptions.csv": pl.DataFrame(
            {
                "patient_id": [ids[0]] * 5,
                "atc": ["C07AB02", "C10AA01", "A10BA02", "B01AC06", "N02BE01"],
                "prescribed_on": [D(2026, 6, 1)] * 5,
            }
        ),
        "determinations.csv": pl.DataFrame(
            schema={"patient_id": pl.String, "code": pl.Int64, "measured_on": pl.Date, "value": pl.String}
        ),
        "contacts.csv": pl.DataFrame(
            {
                "patient_id": [ids[0], ids[1]],
                "contact_on": [D(2026, 1, 1), D(2024, 1, 1)],
                "kind": ["consult", "visite"],
            }
        ),
    }
    write_delivery(
        tmp_path / "landing" / "P0500" / "2026Q3",
        practice_id="P0500",
        quarter="2026Q3",
        extracted_on=D(2026, 10, 2),
        tables=tables,
        dialect=VENDOR_DIALECTS[0],
    )
    home = OmuHome.resolve(tmp_path / "home").prepare()
    load_and_screen(home, tmp_path / "landing", [("P0500", "2026Q3")])  # the default profile first
    from omu import store
    from omu.screening.screen import screen

    with store.connect(home.database) as conn:
        screen(conn, load_profile(profile_path), practice_id="P0500", source_quarter="2026Q3")
    with duckdb.connect(str(home.database), read_only=True) as conn:
        rows = conn.sql(
            "SELECT patient_id, older_than_75, many_medicines, no_contact_3_years, recent_fall, score, "
            "over_threshold, older_than_55 FROM screening WHERE profile_name = 'utrecht-regio' AND quarter = '2026Q3' "
            "ORDER BY patient_id"
        ).fetchall()
        versions = conn.execute(
            "SELECT DISTINCT profile_name, profile_version FROM screening ORDER BY 1"
        ).fetchall()
    assert rows == [
        ("regioA000000001", True, True, False, False, 2, True, None),
        ("regioB000000002", False, False, False, True, 2, True, None),
        ("regioC000000003", False, False, True, False, 1, False, None),
    ]
    assert versions == [("omu-basis", 1), ("utrecht-regio", 2)]


ASTHMA_PROFILE = PROFILES_DIR / "astma-signaal-v1.yaml"


def asthma_broken(tmp_path: Path, change) -> Path:
    raw = yaml.safe_load(ASTHMA_PROFILE.read_text())
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True))
    return path


def _either(raw):
    return raw["characteristics"][1]["criteria"][0]


ASTHMA_BROKEN = {
    "an age range upside down": (
        lambda raw: raw["characteristics"][0]["criteria"][0].update(min_years=41),
        "max_years (40) lies below min_years (41)",
    ),
    "an age range without its upper bound": (
        lambda raw: raw["characteristics"][0]["criteria"][0].pop("max_years"),
        "age_range needs max_years",
    ),
    "either_of with one criterion": (lambda raw: _either(raw)["criteria"].pop(), "at least two criteria"),
    "either_of inside either_of": (
        lambda raw: _either(raw)["criteria"].append(dict(_either(raw))),
        "cannot hold another either_of",
    ),
    "an absent criterion inside either_of": (
        lambda raw: _either(raw)["criteria"][0].update(absent=True),
        "inside either_of cannot be absent",
    ),
    "an unknown codelist inside either_of": (
        lambda raw: _either(raw)["criteria"][0].update(codelist="sabas"),
        "unknown codelist 'sabas'",
    ),
    "contacts at most fewer than at least": (
        lambda raw: raw["characteristics"][3]["criteria"][0].update(min_count=2),
        "max_count (1) lies below min_count (2)",
    ),
    "rule all with another threshold": (
        lambda raw: raw.update(threshold=3),
        "threshold = the sum of the weights (4)",
    ),
    "an unknown rule": (lambda raw: raw.update(rule="most"), "rule is score"),
    "first_prescription takes no count": (
        lambda raw: raw["notes"][1]["criteria"][0].update(min_count=1),
        "first_prescription does not take min_count",
    ),
}


def test_the_asthma_profile_reads_as_its_rule():
    profile = load_profile(ASTHMA_PROFILE)
    assert (profile.name, profile.version, profile.rule) == ("astma-signaal", 1, "all")
    assert profile.threshold == 4 == sum(c.weight for c in profile.scored)  # all four must hold
    assert [c.id for c in profile.scored] == [
        "age_12_to_40",
        "reliever_use",
        "no_inhaled_corticosteroid",
        "few_practice_contacts",
    ]
    assert {c.id for c in profile.characteristics if not c.scored} == {"asthma_episode", "first_inhaler"}
    assert profile.output_folder == "astma-signaal-v1" and load_profile().output_folder == ""


@pytest.mark.parametrize("case", ASTHMA_BROKEN)
def test_a_broken_use_of_the_new_criterion_types_is_refused(tmp_path, case):
    change, words = ASTHMA_BROKEN[case]
    with pytest.raises(ProfileError) as refused:
        load_profile(asthma_broken(tmp_path, change))
    assert words in str(refused.value)
    assert "broken.yaml" in str(refused.value)


def test_config_names_the_profiles_to_run_side_by_side(tmp_path):
    from omu.config import ConfigError, load_config
    from omu.screening.profile import load_profiles

    config = tmp_path / "config.yaml"
    assert [p.key for p in load_profiles(load_config(config).profiles)] == [
        "omu-basis-v1"
    ]  # no file: default
    config.write_text("profiles: [omu-basis-v1, astma-signaal-v1]\n")
    assert [p.key for p in load_profiles(load_config(config).profiles, base=tmp_path)] == [
        "omu-basis-v1",
        "astma-signaal-v1",
    ]
    config.write_text("profiles: [omu-basis-v1, omu-basis-v1]\n")
    with pytest.raises(ConfigError, match="names a profile twice"):
        load_config(config)
    config.write_text("profiles: [astma-signal-v1]\n")
    with pytest.raises(ProfileError, match="no profile at .*astma-signal-v1.yaml"):
        load_profiles(load_config(config).profiles, base=tmp_path)
    copy = tmp_path / "mine.yaml"  # the same name and version under another file name
    copy.write_text(DEFAULT_PROFILE.read_text())
    config.write_text("profiles: [omu-basis-v1, mine.yaml]\n")
    with pytest.raises(ProfileError, match="omu-basis version 1 is configured twice"):
        load_profiles(load_config(config).profiles, base=tmp_path)
