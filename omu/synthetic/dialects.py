"""How each HIS vendor writes its CSV export (the synthetic vendors' dialects).

The contract (docs/his-extract-contract.md, "CSV dialect") allows all of these; the four vendors below
differ in every dimension across the set, so a reader that handles the synthetic landing folder handles each
variant the contract allows. The mapping vendor -> dialect is an assumption of the synthetic data, not a
statement about how the real products export.
"""

from __future__ import annotations

from dataclasses import dataclass

from omu.contract import SEX_ALIASES

HEADER_CASES = ("lower", "upper", "title")
ENCODINGS = ("utf-8", "utf-8-sig", "cp1252")
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y")


@dataclass(frozen=True)
class Dialect:
    """How one HIS vendor writes CSV."""

    vendor: str
    separator: str
    encoding: str  # "utf-8", "utf-8-sig" (with BOM) or "cp1252"
    date_format: str  # "%Y-%m-%d" or "%d-%m-%Y"
    header_case: str  # "lower" | "upper" | "title"
    decimal_comma: bool
    line_ending: str  # "\n" or "\r\n"
    female_code: str = "V"  # one vendor writes "F" (and "U" for unknown); the contract reads them as V and O

    def __post_init__(self) -> None:
        if self.header_case not in HEADER_CASES:
            raise ValueError(f"header_case must be one of {HEADER_CASES}, not {self.header_case!r}")
        if self.encoding not in ENCODINGS:
            raise ValueError(f"encoding must be one of {ENCODINGS}, not {self.encoding!r}")
        if self.date_format not in DATE_FORMATS:
            raise ValueError(f"date_format must be one of {DATE_FORMATS}, not {self.date_format!r}")
        if self.line_ending not in ("\n", "\r\n"):
            raise ValueError(f"line_ending must be '\\n' or '\\r\\n', not {self.line_ending!r}")
        if len(self.separator) != 1:
            raise ValueError(f"separator must be one character, not {self.separator!r}")

    @property
    def unknown_code(self) -> str:
        """The code written for sex 'O' (onbekend): its alias (U) by the vendor that writes the alias of V
        (F) for women; the aliases are the contract's."""
        alias_of = {code: alias for alias, code in SEX_ALIASES.items()}
        return alias_of["O"] if self.female_code == alias_of["V"] else "O"

    def header(self, name: str) -> str:
        if self.header_case == "upper":
            return name.upper()
        if self.header_case == "title":
            return name.title()
        return name.lower()


VENDOR_DIALECTS: tuple[Dialect, ...] = (
    Dialect("Medicom", ";", "utf-8-sig", "%d-%m-%Y", "lower", True, "\r\n"),
    Dialect("Promedico", ",", "utf-8", "%Y-%m-%d", "upper", False, "\n"),
    Dialect("Microhis", ";", "cp1252", "%d-%m-%Y", "title", True, "\r\n", female_code="F"),
    Dialect("CGM", ",", "utf-8-sig", "%Y-%m-%d", "lower", True, "\n"),
)
"""Practice i (0-based) uses VENDOR_DIALECTS[i % len(VENDOR_DIALECTS)]. Microhis stands for Microhis/HIS Bricks.
CGM combines ',' as separator with a decimal comma, so its decimal values are quoted ("72,5")."""
