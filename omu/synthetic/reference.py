"""Reference data the generator reads at run time: clinical/ (codelists, wijken, profile, outcome) plus the
synthetic-only parameters of each wijk (population, age mix, postcodes, neighbours) that clinical/ does not hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from omu import reference
from omu.reference import DEPRIVATION_GROUPS
from omu.resources import CLINICAL_DIR
from omu.screening.profile import load_codelist

DEFAULT_PROFILE = CLINICAL_DIR / "profiles" / "omu-basis-v1.yaml"
ASTHMA_PROFILE = CLINICAL_DIR / "profiles" / "astma-signaal-v1.yaml"  # its truth sits beside omu-basis's
DEFAULT_OUTCOME = CLINICAL_DIR / "outcomes" / "unplanned-care-v1.yaml"


# Synthetic-only wijk parameters (approximate, for realism; documented in docs/synthetic-data.md):
#   population in thousands (about CBS 2023), age-mix factors for the broad age groups
#   (0-14, 15-29, 30-54, 55-74, 75+) applied to the city's base pyramid, 4-digit postcodes, neighbouring wijken.
_WIJK_PARAMETERS: dict[str, tuple[float, tuple[float, ...], tuple[str, ...], tuple[str, ...]]] = {
    "WK034401": (
        24,
        (1.00, 1.10, 1.00, 0.90, 0.90),
        ("3531", "3532", "3533"),
        ("WK034402", "WK034406", "WK034408", "WK034409"),
    ),  # West
    "WK034402": (
        39,
        (1.10, 1.00, 1.00, 0.95, 0.90),
        ("3551", "3552", "3553", "3554", "3555"),
        ("WK034401", "WK034403", "WK034406", "WK034409"),
    ),  # Noordwest
    "WK034403": (
        35,
        (1.35, 1.15, 0.95, 0.80, 0.70),
        ("3561", "3562", "3563", "3564"),
        ("WK034402", "WK034404", "WK034406"),
    ),  # Overvecht: younger, deprived
    "WK034404": (
        28,
        (0.95, 0.90, 1.00, 1.15, 1.30),
        ("3571", "3572", "3573"),
        ("WK034403", "WK034405", "WK034406"),
    ),  # Noordoost
    "WK034405": (
        31,
        (0.80, 1.00, 0.90, 1.30, 1.70),
        ("3581", "3582", "3583", "3584", "3585"),
        ("WK034404", "WK034406", "WK034407"),
    ),  # Oost: older
    "WK034406": (
        18,
        (0.60, 1.60, 1.00, 0.90, 0.80),
        ("3511", "3512", "3513"),
        ("WK034401", "WK034402", "WK034403", "WK034404", "WK034405", "WK034407", "WK034408"),
    ),  # Binnenstad: small
    "WK034407": (
        26,
        (0.90, 1.10, 1.00, 1.00, 1.10),
        ("3522", "3523", "3524", "3525"),
        ("WK034405", "WK034406", "WK034408"),
    ),  # Zuid
    "WK034408": (
        30,
        (1.35, 1.15, 0.95, 0.80, 0.70),
        ("3521", "3526", "3527", "3528"),
        ("WK034401", "WK034406", "WK034407", "WK034409"),
    ),  # Zuidwest: younger, deprived
    "WK034409": (
        62,
        (1.60, 0.70, 1.35, 0.60, 0.35),
        ("3541", "3542", "3543", "3544", "3545"),
        ("WK034401", "WK034402", "WK034408", "WK034410"),
    ),  # Leidsche Rijn: young families
    "WK034410": (
        47,
        (1.10, 0.75, 1.00, 1.35, 1.50),
        ("3451", "3452", "3453", "3454", "3455"),
        ("WK034409",),
    ),  # Vleuten-De Meern: older
}
_DEFAULT_PARAMETERS = (20.0, (1.0, 1.0, 1.0, 1.0, 1.0), (), ())


@dataclass(frozen=True)
class Wijk:
    code: str
    name: str
    deprivation: str  # laag | midden | hoog (clinical/reference/wijken.csv, an omu assumption)
    population: float  # thousands
    age_factors: tuple[float, ...]
    pc4: tuple[str, ...]
    neighbours: tuple[str, ...]

    @property
    def deprivation_level(self) -> int:
        return DEPRIVATION_GROUPS.index(self.deprivation)


def load_wijken(clinical_dir: Path = CLINICAL_DIR) -> tuple[Wijk, ...]:
    wijken = []
    for row in reference.wijken(clinical_dir / "reference" / "wijken.csv").iter_rows(named=True):
        population, factors, pc4, neighbours = _WIJK_PARAMETERS.get(row["wijk_code"], _DEFAULT_PARAMETERS)
        wijken.append(
            Wijk(
                row["wijk_code"],
                row["wijk_name"],
                row["deprivation_group"],
                float(population),
                factors,
                pc4,
                neighbours,
            )
        )
    return tuple(wijken)


def read_codelist(name: str, clinical_dir: Path = CLINICAL_DIR) -> pl.DataFrame:
    """A codelist CSV as text columns (code, description, ... ); codes stripped (the screening's loader)."""
    return load_codelist(name, None, clinical_dir / "codelists")


def codelist_codes(name: str, clinical_dir: Path = CLINICAL_DIR) -> tuple[str, ...]:
    return tuple(read_codelist(name, clinical_dir)["code"].to_list())


def load_yaml(path: Path) -> dict:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def icpc_matches(code: str, codes: tuple[str, ...]) -> bool:
    """The contract's rule for ICPC codelists: equal to a listed code or a sub-code of it (code + '.')."""
    return any(code == c or code.startswith(c + ".") for c in codes)


def atc_matches(code: str, codes: tuple[str, ...]) -> bool:
    """ATC codelists match by prefix."""
    return any(code.startswith(c) for c in codes)
