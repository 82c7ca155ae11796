"""Quarters as the project speaks of them: '2026Q3', reference date = the quarter's last day."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")


@dataclass(frozen=True, order=True)
class Quarter:
    year: int
    q: int

    @classmethod
    def parse(cls, text: str) -> Quarter:
        match = _QUARTER.match(text.strip().upper())
        if not match:
            raise ValueError(f"not a quarter: {text!r} (expected e.g. 2026Q3)")
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def containing(cls, day: dt.date) -> Quarter:
        return cls(day.year, (day.month - 1) // 3 + 1)

    def __str__(self) -> str:
        return f"{self.year}Q{self.q}"

    @property
    def start(self) -> dt.date:
        return dt.date(self.year, 3 * self.q - 2, 1)

    @property
    def reference_date(self) -> dt.date:
        """The last day of the quarter: the date a screening looks from."""
        return self.next().start - dt.timedelta(days=1)

    def shift(self, quarters: int) -> Quarter:
        index = self.year * 4 + (self.q - 1) + quarters
        return Quarter(index // 4, index % 4 + 1)

    def next(self) -> Quarter:
        return self.shift(1)

    def previous(self) -> Quarter:
        return self.shift(-1)


def quarter_range(spec: str) -> list[Quarter]:
    """'2025Q3:2026Q3' -> every quarter from the first to the last, both included; '2026Q3' -> one."""
    first_text, _, last_text = spec.partition(":")
    first = Quarter.parse(first_text)
    last = Quarter.parse(last_text) if last_text else first
    if last < first:
        raise ValueError(f"quarter range {spec!r} ends before it starts")
    quarters = [first]
    while quarters[-1] < last:
        quarters.append(quarters[-1].next())
    return quarters
