"""Everything under out/<quarter>/region/: indicators.csv, indicators.xlsx and dashboard.html
(per profile: other profiles than omu-basis v1 in region/<name>-v<version>/).

Used by the Dagster assets (assets/dashboards.py) and by `omu dashboard`. The files are written
from the stored, suppressed ``indicators`` table only.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl

from omu.dashboards.indicator_files import write_csv, write_xlsx
from omu.dashboards.indicators import read_indicators, store_indicators
from omu.dashboards.page import write_dashboard
from omu.dashboards.texts import funnel_outliers, highest_standardised
from omu.home import OmuHome
from omu.screening.profile import Profile

INDICATORS_CSV = "indicators.csv"
INDICATORS_XLSX = "indicators.xlsx"
DASHBOARD_HTML = "dashboard.html"


@dataclass
class RegionOutputs:
    quarter: str
    folder: Path
    files: dict[str, Path] = field(default_factory=dict)
    quarters: list[str] = field(default_factory=list)
    areas: int = 0
    highest_wijk: str | None = None  # one line of Dutch: the highest age-standardised wijk
    outside_998: list[str] = field(default_factory=list)  # practices outside the 99.8% limits


def refresh_indicators(conn: duckdb.DuckDBPyConnection, profile: Profile, quarter: str) -> pl.DataFrame:
    """Recompute and store (suppressed) the indicators of every delivered quarter up to ``quarter``."""
    return store_indicators(conn, profile, quarter)


def write_indicator_files(
    conn: duckdb.DuckDBPyConnection, home: OmuHome, profile: Profile, quarter: str
) -> dict[str, Path]:
    wide = read_indicators(conn, profile, quarter)
    folder = home.region_out(quarter, profile.output_folder)
    return {
        INDICATORS_CSV: write_csv(folder / INDICATORS_CSV, wide, profile),
        INDICATORS_XLSX: write_xlsx(folder / INDICATORS_XLSX, wide, profile, quarter),
    }


def write_dashboard_page(
    conn: duckdb.DuckDBPyConnection, home: OmuHome, profile: Profile, quarter: str
) -> RegionOutputs:
    wide = read_indicators(conn, profile, quarter)
    folder = home.region_out(quarter, profile.output_folder)
    outputs = RegionOutputs(quarter, folder)
    outputs.files[DASHBOARD_HTML] = write_dashboard(folder / DASHBOARD_HTML, wide, profile, quarter)
    outputs.quarters = sorted(set(wide.get_column("quarter").to_list()))
    current = wide.filter(pl.col("quarter") == quarter)
    outputs.areas = current.height
    top = highest_standardised(current)
    if top is not None:
        outputs.highest_wijk = (
            f"{top['area_name']} {top['dsr_over']:.1f}% "
            f"(95% CI {top['dsr_over_lower']:.1f}-{top['dsr_over_upper']:.1f}%)"
        )
    outliers = funnel_outliers(current)
    outputs.outside_998 = [
        f"{r['area_code']} ({side})" for side in ("boven", "onder") for r in outliers[side]
    ]
    return outputs


def write_region(
    conn: duckdb.DuckDBPyConnection, home: OmuHome, profile: Profile, quarter: str
) -> RegionOutputs:
    """Indicators stored, then the csv, the xlsx and the dashboard written: what `omu dashboard` does."""
    refresh_indicators(conn, profile, quarter)
    files = write_indicator_files(conn, home, profile, quarter)
    outputs = write_dashboard_page(conn, home, profile, quarter)
    outputs.files = {**files, **outputs.files}
    return outputs


# --------------------------------------------------------------------------------------------
# Privacy check: no patient_id anywhere under region/
# --------------------------------------------------------------------------------------------


def file_text(path: Path) -> str:
    """The text a reader could find in a file: xlsx parts unzipped, everything else as UTF-8."""
    if path.suffix.lower() in (".xlsx", ".xlsm", ".zip"):
        with zipfile.ZipFile(path) as archive:
            return "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    return path.read_bytes().decode("utf-8", "replace")


class PatientIdSearch:
    """An exact substring search for many patient ids, prepared once and used on many files: the
    text is cut into runs of characters that occur in ids (anything else cannot be part of one)
    and every window of an id's length inside a run is looked up."""

    def __init__(self, patient_ids: Iterable[str]):
        self.ids = {p for p in patient_ids if p}
        self.lengths = sorted({len(p) for p in self.ids})
        alphabet = "".join(sorted({re.escape(ch) for p in self.ids for ch in p}))
        self.runs = re.compile(f"[{alphabet}]{{{self.lengths[0]},}}") if self.ids else None

    def in_files(self, paths: Iterable[Path]) -> dict[str, set[str]]:
        """{file: patient_ids found in it}, for the files that hold any."""
        found: dict[str, set[str]] = {}
        if self.runs is None:
            return found
        for path in paths:
            hits: set[str] = set()
            for run in self.runs.findall(file_text(path)):
                for length in self.lengths:
                    hits.update(
                        w
                        for w in (run[i : i + length] for i in range(len(run) - length + 1))
                        if w in self.ids
                    )
            if hits:
                found[str(path)] = hits
        return found

    def in_folder(self, folder: Path) -> dict[str, set[str]]:
        return self.in_files(p for p in sorted(Path(folder).rglob("*")) if p.is_file())


def patient_ids_in(folder: Path, patient_ids: Iterable[str]) -> dict[str, set[str]]:
    """{file: patient_ids found in it} for every file under ``folder`` (PatientIdSearch)."""
    return PatientIdSearch(patient_ids).in_folder(folder)
