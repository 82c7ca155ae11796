"""Hashing files and reading the project's own YAML definition files: one implementation each."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_yaml_mapping(
    path: Path, *, kind: str, required: tuple[str, ...], error: type[Exception]
) -> dict[str, Any]:
    """A YAML file holding one mapping with the required keys; anything else raises `error`
    with a message naming the file (kind: 'profile', 'outcome', ... for the message)."""
    path = Path(path)
    if not path.is_file():
        raise error(f"no {kind} at {path}")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as problem:
        raise error(f"{path.name} is not valid YAML: {problem}") from problem
    if not isinstance(raw, dict):
        raise error(f"{path.name}: a {kind} is a mapping with {', '.join(required)}")
    for key in required:
        if key not in raw:
            raise error(f"{path.name}: missing {key!r}")
    return raw


def whole_number(
    value: Any, where: str, key: str, *, minimum: int = 0, error: type[Exception] = ValueError
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise error(f"{where}: {key} must be a whole number, not {value!r}")
    if value < minimum:
        raise error(f"{where}: {key} must be {minimum} or more, not {value}")
    return value
