"""Reading the project's own definition files and hashing files: one implementation each."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
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


def _default_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_mode()


@contextmanager
def atomic_path(path: Path | str) -> Iterator[Path]:
    """A temporary path beside `path` to write to; on success it replaces `path` in one step
    (os.replace), so a reader sees the old file or the new one, never half of one. On an error the
    temporary file is removed and `path` is left as it was. The suffix is kept (writers that go by
    it, such as xlsx, still work)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=path.parent)
    os.close(handle)
    temporary = Path(name)
    try:
        yield temporary
        os.chmod(temporary, _FILE_MODE)  # mkstemp makes 0600; an output gets the usual mode
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def write_text_atomically(path: Path | str, text: str) -> Path:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return Path(path)
