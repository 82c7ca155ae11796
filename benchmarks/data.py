"""Benchmark data: synthetic landing folders, the scan-limit baseline and a re-delivery.

Everything large lives under the work folder (default /tmp/omu-bench/<name>), never in the repo.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import duckdb

from omu.contract import FILES, MANIFEST
from omu.quarters import quarter_range


@dataclass(frozen=True)
class LandingInfo:
    landing: Path
    deliveries: list[Path]
    rows: dict[str, int]
    bytes: int
    patients_registered: int  # registered on the first quarter's reference date (all practices)
    generated: bool  # False when an earlier identical landing was reused


def delivery_dirs(landing: Path) -> list[Path]:
    """landing/<practice>/<quarter>/ folders with a manifest, oldest quarter first, then practice."""
    found = [m.parent for m in landing.glob(f"*/*/{MANIFEST}")]
    return sorted(found, key=lambda d: (d.name, d.parent.name))


def _tree_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def city_landing(landing: Path, *, practices: int, quarters: str, seed: int) -> LandingInfo:
    """`practices` practices of the city scale's size and history, generated once per parameters."""
    from benchmarks.scales import SCALES

    city = SCALES["city"]
    return generate_landing(
        landing,
        practices=practices,
        quarters=quarters,
        seed=seed,
        patients=city.patients,
        history_years=city.history_years,
        reuse=True,
    )


def generate_landing(
    landing: Path,
    *,
    practices: int,
    quarters: str,
    seed: int,
    patients: tuple[int, int],
    history_years: int = 5,
    reuse: bool = False,
) -> LandingInfo:
    """omu.synthetic.generate into `landing`; with reuse, an earlier landing made with the same
    parameters (landing/../landing.json) is kept as it is."""
    from omu.synthetic import generate

    parameters = {
        "practices": practices,
        "quarters": quarters,
        "seed": seed,
        "patients": list(patients),
        "history_years": history_years,
    }
    record = landing.parent / "landing.json"
    if reuse and record.is_file() and landing.is_dir():
        saved = json.loads(record.read_text())
        if saved.get("parameters") == parameters:
            return LandingInfo(
                landing,
                delivery_dirs(landing),
                saved["rows"],
                saved["bytes"],
                saved["patients_registered"],
                generated=False,
            )
    if landing.exists():
        shutil.rmtree(landing)
    record.unlink(missing_ok=True)
    summary = generate(
        landing,
        practices=practices,
        quarters=quarter_range(quarters),
        seed=seed,
        patients=patients,
        history_years=history_years,
    )
    info = LandingInfo(
        landing,
        delivery_dirs(landing),
        dict(summary.rows),
        _tree_bytes(landing),
        summary.patients_at_first_quarter,
        generated=True,
    )
    record.write_text(
        json.dumps(
            {
                "parameters": parameters,
                "rows": info.rows,
                "bytes": info.bytes,
                "patients_registered": info.patients_registered,
            },
            indent=2,
        )
    )
    return info


def _sniff(path: Path) -> tuple[str, str]:
    """(separator, encoding) from the first bytes, as a reader that knows nothing else would."""
    with path.open("rb") as handle:
        head = handle.read(1 << 16)
    first = head.split(b"\n", 1)[0]
    separator = ";" if first.count(b";") >= first.count(b",") else ","
    if head.startswith(b"\xef\xbb\xbf"):
        return separator, "utf-8"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        return separator, "latin-1"  # Windows-1252 bytes; for counting rows latin-1 is exact
    return separator, "utf-8"


def scan_limit(deliveries: list[Path], threads: int | None = None) -> dict[str, int]:
    """Baseline (a): DuckDB reads every input file once, `count(*)` over `read_csv` (all text,
    separator and encoding given). No typing, no checks, nothing written: the floor for ingest.
    Returns the data rows per file name."""
    rows: dict[str, int] = {}
    with duckdb.connect() as conn:
        if threads:
            conn.execute(f"SET threads = {int(threads)}")
        for delivery in deliveries:
            for file in FILES:
                path = delivery / file.name
                if not path.is_file():
                    continue
                separator, encoding = _sniff(path)
                statement = (
                    "SELECT count(*) FROM read_csv(?, delim = ?, quote = '\"', header = true, "
                    "all_varchar = true, encoding = ?)"
                )
                try:
                    (count,) = conn.execute(statement, [str(path), separator, encoding]).fetchall()[0]
                except duckdb.InvalidInputException:  # not UTF-8 after all: read as Windows-1252 bytes
                    (count,) = conn.execute(statement, [str(path), separator, "latin-1"]).fetchall()[0]
                rows[file.name] = rows.get(file.name, 0) + count
    return rows


def make_redelivery(
    delivery: Path, target: Path, *, drop_lines: int = 1, file_name: str = "contacts.csv"
) -> Path:
    """A corrected re-delivery of the same practice and quarter: a copy of `delivery` in `target`
    (…/<practice>/<quarter>/) with the last `drop_lines` data lines of one file removed and the
    manifest's rows and sha256 updated, so its manifest hash differs and it replaces the earlier one."""
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(delivery, target)
    path = target / file_name
    data = path.read_bytes()
    line_end = b"\r\n" if b"\r\n" in data[:4096] else b"\n"
    body = data[: -len(line_end)] if data.endswith(line_end) else data
    lines = body.split(line_end)
    kept = lines[: max(1, len(lines) - drop_lines)]
    new = line_end.join(kept) + line_end
    path.write_bytes(new)
    manifest_path = target / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8-sig"))
    entry = manifest["files"][file_name]
    entry["rows"] = entry["rows"] - (len(lines) - len(kept))
    entry["sha256"] = hashlib.sha256(new).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return target
