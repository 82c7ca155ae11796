"""manifest.json: the delivery's own account of itself, checked before any row is read."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omu.contract import CONTRACT_VERSION, FILES_BY_NAME, MANIFEST, REQUIRED_FILES
from omu.file_reading import sha256_of
from omu.ingest.findings import Finding
from omu.quarters import Quarter

REQUIRED_KEYS = ("contract_version", "practice_id", "quarter", "extracted_on", "pseudonym_key_id", "files")


@dataclass
class Manifest:
    raw: dict[str, Any]
    sha256: str

    @property
    def practice_id(self) -> str:
        return str(self.raw.get("practice_id"))

    @property
    def quarter(self) -> str:
        return str(self.raw.get("quarter"))

    @property
    def extracted_on(self) -> dt.date:
        return dt.date.fromisoformat(str(self.raw["extracted_on"]))

    @property
    def files(self) -> dict[str, dict[str, Any]]:
        return self.raw.get("files") or {}

    def rows(self, file_name: str) -> int | None:
        entry = self.files.get(file_name)
        return entry.get("rows") if isinstance(entry, dict) else None


def read_manifest(delivery_dir: Path) -> tuple[Manifest | None, list[Finding]]:
    path = delivery_dir / MANIFEST
    if not path.is_file():
        return None, [
            Finding(
                MANIFEST,
                None,
                None,
                "manifest.json is missing: every delivery needs one "
                "(see the HIS extract contract); ask the extraction tool to write it",
            )
        ]
    data = path.read_bytes()
    try:
        raw = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        return None, [
            Finding(MANIFEST, None, None, f"manifest.json is not readable JSON ({error}); deliver it again")
        ]
    if not isinstance(raw, dict):
        return None, [Finding(MANIFEST, None, None, "manifest.json must hold one JSON object")]
    manifest = Manifest(raw, hashlib.sha256(data).hexdigest())
    missing = [key for key in REQUIRED_KEYS if key not in raw]
    if missing:
        return manifest, [
            Finding(MANIFEST, None, key, f"manifest.json lacks the key {key!r}") for key in missing
        ]
    return manifest, []


def check_manifest(
    manifest: Manifest,
    delivery_dir: Path,
    *,
    expected_practice: str | None,
    expected_quarter: str | None,
    previous_key_id: str | None,
) -> list[Finding]:
    """Everything that can be checked without reading rows; each finding refuses the delivery."""
    findings: list[Finding] = []

    def refuse(column: str | None, message: str, file: str = MANIFEST) -> None:
        findings.append(Finding(file, None, column, message))

    if manifest.raw.get("contract_version") != CONTRACT_VERSION:
        refuse(
            "contract_version",
            f"contract_version is {manifest.raw.get('contract_version')!r}; "
            f"omu reads contract version {CONTRACT_VERSION}",
        )
    if expected_practice and manifest.practice_id != expected_practice:
        refuse(
            "practice_id",
            f"practice_id {manifest.practice_id!r} does not match the folder "
            f"{expected_practice!r}; put the delivery in landing/<practice_id>/<quarter>/",
        )
    quarter: Quarter | None = None
    try:
        quarter = Quarter.parse(manifest.quarter)
    except ValueError:
        refuse("quarter", f"quarter {manifest.quarter!r} is not a quarter like 2026Q3")
    if expected_quarter and manifest.quarter != expected_quarter:
        refuse("quarter", f"quarter {manifest.quarter!r} does not match the folder {expected_quarter!r}")
    try:
        extracted_on = manifest.extracted_on
    except ValueError:
        refuse("extracted_on", f"extracted_on {manifest.raw.get('extracted_on')!r} is not a date YYYY-MM-DD")
    else:
        if quarter and extracted_on <= quarter.reference_date:
            refuse(
                "extracted_on",
                f"extracted_on {extracted_on} must lie after the quarter's last day "
                f"{quarter.reference_date}: a quarter is extracted once it is complete",
            )
    key = manifest.raw.get("pseudonym_key_id")
    if previous_key_id is not None and key != previous_key_id:
        refuse(
            "pseudonym_key_id",
            f"pseudonym_key_id changed from {previous_key_id!r} to {key!r}: the same "
            "patient would get another patient_id. Deliver with the practice's key "
            f"{previous_key_id!r}, or ask omu's maintainers for a key rotation",
        )

    files = manifest.files
    if not isinstance(files, dict):
        refuse("files", "files must map each file name to {rows, sha256}")
        return findings
    for name in REQUIRED_FILES:
        if name not in files:
            refuse("files", f"the required file {name} is not listed in the manifest")
    for name in FILES_BY_NAME:
        on_disk = (delivery_dir / name).is_file()
        if name in files and not on_disk:
            refuse("files", f"{name} is listed in the manifest but not delivered", file=name)
        elif on_disk and name not in files:
            refuse("files", f"{name} is delivered but not listed in the manifest", file=name)
    for name, entry in files.items():
        if name not in FILES_BY_NAME:
            refuse("files", f"{name} is not a file of the contract")
            continue
        if not isinstance(entry, dict) or not isinstance(entry.get("rows"), int) or not entry.get("sha256"):
            refuse("files", f"the manifest entry of {name} needs rows (a number) and sha256")
            continue
        path = delivery_dir / name
        if path.is_file() and sha256_of(path) != str(entry["sha256"]).lower():
            refuse(
                "sha256",
                "the file does not match its sha256 in manifest.json: it changed or arrived "
                "incomplete; deliver it again",
                file=name,
            )
    return findings
