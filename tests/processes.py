"""Processes of an omu home, for the tests that start omu serve and omu ui as real processes."""

from __future__ import annotations

from pathlib import Path


def processes_with_home(home: Path) -> list[int]:
    """Every live process on the machine whose environment points at this omu home."""
    found = []
    marker = f"OMU_HOME={home}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if (
                marker in (entry / "environ").read_bytes().split(b"\0")
                and "State:\tZ" not in (entry / "status").read_text()
            ):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
