"""The delivery report a practice data lead reads: accepted or refused, and why; rows per file."""

from __future__ import annotations

import json
from pathlib import Path

from omu.contract import FILES
from omu.file_writing import atomic_path, write_text_atomically
from omu.ingest.delivery import DeliveryCheck


def render_report(check: DeliveryCheck) -> str:
    title = f"Delivery {check.practice_id or '?'} {check.quarter or '?'}"
    lines = [f"# {title}", "", f"Folder: `{check.delivery_dir}`"]
    if check.manifest:
        lines.append(
            f"Manifest sha256: `{check.manifest.sha256}`; extracted on {check.manifest.raw.get('extracted_on')}; "
            f"HIS vendor: {check.manifest.raw.get('his_vendor', 'unknown')}"
        )
    lines.append("")
    if check.accepted:
        lines.append("**Accepted**: every row is loaded or quarantined below.")
    else:
        lines.append("**Refused**: nothing of this delivery was loaded. Reasons:")
        lines += [f"- {finding}" for finding in check.refusals]
    if check.files:
        lines += [
            "",
            "| file | encoding | separator | rows in manifest | loaded | quarantined |",
            "|---|---|---|---:|---:|---:|",
        ]
        for file in FILES:
            account = check.files.get(file.name)
            if account:
                lines.append(
                    f"| {account.name} | {account.encoding} | `{account.separator}` | {account.rows_in_manifest} | "
                    f"{account.rows_loaded if check.accepted else '-'} | "
                    f"{account.rows_quarantined if check.accepted else '-'} |"
                )
    if check.accepted and not check.quarantine.is_empty():
        lines += ["", "## Quarantined rows per reason", "", "| file | reason | rows |", "|---|---|---:|"]
        for file, reason, rows in check.quarantine_by_reason().iter_rows():
            lines.append(f"| {file} | {reason} | {rows} |")
        lines += [
            "",
            "Every quarantined line, with column and value, is in `quarantine.csv` beside this report.",
        ]
    if check.warnings:
        lines += ["", "## Warnings", ""] + [f"- {warning}" for warning in check.warnings]
    if check.validation:
        passed = sum(summary["evaluated"] - summary["failed"] for summary in check.validation.values())
        total = sum(summary["evaluated"] for summary in check.validation.values())
        batch = max(summary.get("deliveries", 1) for summary in check.validation.values())
        scope = f", validated in one batch of {batch} deliveries" if batch > 1 else ""
        lines += [
            "",
            f"Great Expectations (contract v1 on the rows that load{scope}): {passed} of {total} "
            "expectations met; details in `validation.json`.",
        ]
    return "\n".join(lines) + "\n"


def write_delivery_outputs(check: DeliveryCheck, folder: Path) -> dict[str, Path]:
    """report.md, quarantine.csv and validation.json for one delivery."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "report": folder / "report.md",
        "quarantine": folder / "quarantine.csv",
        "validation": folder / "validation.json",
    }
    write_text_atomically(paths["report"], render_report(check))
    with atomic_path(paths["quarantine"]) as temporary:
        check.quarantine.write_csv(temporary)
    write_text_atomically(
        paths["validation"],
        json.dumps(
            {
                "practice_id": check.practice_id,
                "quarter": check.quarter,
                "manifest_sha256": check.manifest_sha256,
                "accepted": check.accepted,
                "refusals": [str(finding) for finding in check.refusals],
                "great_expectations": check.validation,
            },
            indent=2,
        ),
    )
    return paths
