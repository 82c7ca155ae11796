"""`python -m benchmarks.summary NAME ...`: one Markdown row per benchmark result, to see how the
cost grows with patients and quarters (docs/scaling.md). `--render` rewrites each <name>.md from
its <name>.json (after a change to the table's layout)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.run import PIPELINE_STAGES, RESULTS_DIR, markdown


def _seconds(result: dict, name: str) -> float | None:
    stage = next((s for s in result["stages"] if s["name"] == name and s["status"] == "ok"), None)
    return stage["seconds"] if stage else None


def row(result: dict) -> str:
    size = result["size"]
    ingest, scan = _seconds(result, "ingest"), _seconds(result, "scan_limit")
    screening, pandas = _seconds(result, "screening"), _seconds(result, "pandas_screening")
    pipeline = sum(
        s["seconds"] for s in result["stages"] if s["name"] in PIPELINE_STAGES and s["status"] == "ok"
    )
    ratios = result.get("ratios", {})

    def shown(value: float | None, digits: int = 1) -> str:
        return "–" if value is None else f"{value:,.{digits}f}"

    deliveries = size.get("deliveries", size["practices"])
    return (
        f"| {result['name']} | {size['practices']} | {deliveries} | {size.get('patients_registered', 0):,} | "
        f"{size.get('rows_total', 0) / 1e6:,.1f} M | {shown(scan)} | {shown(ingest)} | "
        f"{shown(ratios.get('ingest_vs_scan_limit', {}).get('value'))}x | "
        f"{shown(ingest / deliveries if ingest else None, 2)} | {shown(screening)} | {shown(pandas)} | "
        f"{shown(ratios.get('pandas_vs_sql_screening', {}).get('value'), 2)}x | {shown(pipeline)} | "
        f"{result['machine']['load_average_at_start'][0]} |"
    )


HEADER = (
    "| result | practices | deliveries | patients | rows | scan limit s | ingest s | ingest / scan | "
    "ingest s per delivery | screening s | pandas s | pandas / SQL | full quarter s | load at start |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.summary", description=__doc__)
    p.add_argument("names", nargs="+")
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    p.add_argument("--render", action="store_true")
    args = p.parse_args(argv)
    results = [json.loads((args.results / f"{name}.json").read_text()) for name in args.names]
    if args.render:
        for result in results:
            (args.results / f"{result['name']}.md").write_text(markdown(result))
    print(HEADER)
    for result in results:
        if result.get("scale") != "national":
            print(row(result))


if __name__ == "__main__":
    main()
