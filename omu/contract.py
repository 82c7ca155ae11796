"""The HIS extract contract, version 1 (docs/his-extract-contract.md), as data.

One description of the delivery layout that the generator writes, the reader checks and the
Great Expectations suites state, so the three cannot drift apart. The store follows it too: each
file of FILES is a raw table (omu/store.py) with its row counts in `deliveries`, merged, retained
and quarantined by SQL run per file, and typed by its own sql/ingest/<table>.sql or, for a plain
file, by typing made from its entry (omu/ingest/typing.py). Adding a plain file = its entry in FILES
(docs/ingest.md, "Adding a file to the contract").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTRACT_VERSION = 1
MANIFEST = "manifest.json"

# Patterns of the contract, written once. DuckDB (RE2) and Python's re both read them.
# A practice id names folders (landing, outputs, staging): letters, digits, '_' and '-' only, so it
# can never climb out of its folder nor act as a glob.
PRACTICE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$"
PATIENT_ID_PATTERN = r"^[A-Za-z0-9_-]{8,64}$"
WIJK_CODE_PATTERN = r"^WK[0-9]{6}$"
PC4_PATTERN = r"^[0-9]{4}$"
ICPC_PATTERN = r"^[A-Z][0-9]{2}(\.[0-9]{1,2})?$"
ATC_PATTERN = r"^[A-Z]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$"
INTEGER_PATTERN = r"^[0-9]+$"
NUMBER_PATTERN = r"^-?[0-9]+([.,][0-9]+)?$"
ISO_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
DUTCH_DATE_PATTERN = r"^[0-9]{2}-[0-9]{2}-[0-9]{4}$"

SEXES = ("M", "V", "O")
SEX_ALIASES = {"F": "V", "U": "O"}  # the contract reads F and U as V and O (sql/ingest/macros.sql: omu_sex)
END_REASONS = ("verhuisd", "overleden", "overig")
CONTACT_KINDS = ("consult", "visite", "telefonisch", "e-consult", "huisartsenpost")


# The type of a column once typed (staged, stored, validated), per kind of column.
SQL_TYPES = {"text": "VARCHAR", "code": "VARCHAR", "int": "INTEGER", "number": "DOUBLE", "date": "DATE"}
# A file's table and its columns name the store's tables and columns (and the SQL run per file),
# so they are plain lower-case identifiers: <table>.csv, and columns like patient_id.
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"


class PracticeIdError(ValueError):
    """A practice id that breaks the contract's pattern (raised before it reaches a path)."""


def checked_practice_id(value: object, where: str = "practice id") -> str:
    """The practice id itself if it matches PRACTICE_ID_PATTERN, else PracticeIdError naming where
    it came from (a folder, a partition key, a CLI option)."""
    if not isinstance(value, str) or re.fullmatch(PRACTICE_ID_PATTERN, value) is None:
        raise PracticeIdError(
            f"{where}: {value!r} is not a practice id (letters, digits, '_' and '-', "
            f"at most 32, starting with a letter or digit; e.g. P0001)"
        )
    return value


@dataclass(frozen=True)
class Column:
    name: str
    kind: str  # text | int | number | date | code (SQL_TYPES)
    required: bool = True
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    minimum: int | None = None
    maximum: int | None = None

    def __post_init__(self) -> None:
        if re.fullmatch(NAME_PATTERN, self.name) is None or self.kind not in SQL_TYPES:
            raise ValueError(
                f"contract column {self.name!r} ({self.kind!r}): the name must match {NAME_PATTERN}, "
                f"the kind be one of {', '.join(SQL_TYPES)}"
            )


@dataclass(frozen=True)
class ContractFile:
    name: str
    columns: tuple[Column, ...]
    required: bool = True
    unique: tuple[str, ...] = ()
    references_patients: bool = True
    derived: tuple[Column, ...] = ()  # columns omu adds when typing (not in the delivery)
    description: str = ""  # what the file holds (its raw table's description in Dagster)

    def __post_init__(self) -> None:
        if not self.name.endswith(".csv") or re.fullmatch(NAME_PATTERN, self.table) is None:
            raise ValueError(
                f"contract file {self.name!r}: its name must be <table>.csv, <table> matching {NAME_PATTERN}"
            )
        names = [column.name for column in self.typed_columns]
        if len(set(names)) != len(names):
            raise ValueError(f"contract file {self.name}: a column is named twice ({', '.join(names)})")

    @property
    def table(self) -> str:
        return self.name.removesuffix(".csv")

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def typed_columns(self) -> tuple[Column, ...]:
        """The columns of the typed rows (typing, staged, stored, validated)."""
        return self.columns + self.derived

    @property
    def date_columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.kind == "date")


_PATIENT_ID = Column("patient_id", "text", pattern=PATIENT_ID_PATTERN)

FILES: tuple[ContractFile, ...] = (
    ContractFile(
        "patients.csv",
        (
            _PATIENT_ID,
            Column("birth_year", "int", minimum=1900),  # maximum: the extraction year
            Column("birth_month", "int", required=False, minimum=1, maximum=12),
            Column("sex", "code", allowed=SEXES),
            Column("wijk_code", "text", pattern=WIJK_CODE_PATTERN),
            Column("pc4", "text", required=False, pattern=PC4_PATTERN),
            Column("registered_from", "date"),
            Column("registered_until", "date", required=False),
            Column("end_reason", "code", required=False, allowed=END_REASONS),
        ),
        unique=("patient_id",),
        references_patients=False,
        description="patients.csv of each delivery: registration, birth year/month, sex, wijk.",
    ),
    ContractFile(
        "episodes.csv",
        (
            _PATIENT_ID,
            Column("icpc", "text", pattern=ICPC_PATTERN),
            Column("start_date", "date"),
            Column("end_date", "date", required=False),
        ),
        description="episodes.csv: the ICPC problem list with start and end dates.",
    ),
    ContractFile(
        "prescriptions.csv",
        (
            _PATIENT_ID,
            Column("atc", "text", pattern=ATC_PATTERN),
            Column("prescribed_on", "date"),
            Column("quantity", "number", required=False),
            Column("duration_days", "int", required=False),
        ),
        description="prescriptions.csv: every ATC prescription with date, quantity and duration.",
    ),
    ContractFile(
        "determinations.csv",
        (
            _PATIENT_ID,
            Column("code", "int"),
            Column("measured_on", "date"),
            Column("value", "text"),
        ),
        derived=(Column("value_number", "number", required=False),),  # value when it is a number
        description="determinations.csv: NHG-Tabel 45 determinations (incl. living situation).",
    ),
    ContractFile(
        "contacts.csv",
        (
            _PATIENT_ID,
            Column("contact_on", "date"),
            Column("kind", "code", allowed=CONTACT_KINDS),
        ),
        required=False,
        description="contacts.csv (optional): consultations, visits, out-of-hours contacts.",
    ),
)

FILES_BY_NAME = {file.name: file for file in FILES}
REQUIRED_FILES = tuple(file.name for file in FILES if file.required)
