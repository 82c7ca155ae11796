"""omu's data files, read from the installed package: the SQL, the clinical definitions, Dagster's
instance template and the sample deliveries.

In the repository they are the top-level folders sql/, clinical/, sample_data/ and dagster.yaml, which
omu/ links to (omu/sql -> ../sql, ...); the wheel holds them as real files under omu/. Either way
`importlib.resources` finds them next to the code, never relative to the working directory.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def data_path(*parts: str) -> Path:
    """A file or folder inside the omu package (DuckDB and polars read them by path)."""
    found = files("omu").joinpath(*parts)
    if not isinstance(found, Path):  # a zipped install: omu needs its data files on disk
        raise RuntimeError(f"omu's data file {'/'.join(parts)} is not on the file system ({found})")
    return found


SQL_DIR = data_path("sql")
CLINICAL_DIR = data_path("clinical")
WIJKEN_CSV = CLINICAL_DIR / "reference" / "wijken.csv"
DAGSTER_YAML = data_path("dagster.yaml")
SAMPLE_LANDING = data_path("sample_data", "landing")
