"""The benchmark scales. Every size can be shrunk from the command line for a quick try."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    practices: int
    patients: tuple[int, int]  # practice size range (registered on the first quarter's reference date)
    quarters: str  # deliveries per practice: one per quarter, each with the full history
    history_years: int
    description: str
    national: bool = False  # straight to Parquet, screening only


SCALES = {
    "sample": Scale("sample", 3, (1000, 2000), "2026Q3", 5, "3 small practices: the whole chain in seconds"),
    "city": Scale(
        "city",
        120,
        (2000, 4000),
        "2026Q3",
        5,
        "Utrecht: 120 practices, about 360,000 patients, 5 years of history, one quarter",
    ),
    "national": Scale(
        "national",
        5000,
        (2200, 5000),
        "2026Q3",
        5,
        "the Netherlands: 5,000 practices, about 18 million patients; Parquet, screening only",
        national=True,
    ),
}
