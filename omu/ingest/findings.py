"""A reason to refuse a delivery, located as precisely as the problem allows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    file: str | None
    line: int | None  # line in the file; the header is line 1
    column: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                self.file,
                f"line {self.line}" if self.line is not None else None,
                f"column {self.column}" if self.column else None,
            )
            if part
        )
        return f"{where}: {self.message}" if where else self.message
