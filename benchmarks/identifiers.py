"""False alarms and speed of the direct-identifier scan on clean generated deliveries.

    python -m benchmarks.identifiers [--practices 120] [--quarters 2026Q3] [--full] [--work DIR]

Generates (or reuses) a landing of clean deliveries (practice i writes vendor dialect i mod 4),
reads every delivery and runs the identifier scan omu runs before typing. A clean delivery that
the scan refuses is a false alarm; the script prints the number of deliveries, of false alarms
(file and column only; values are never printed) and the scan time. With --full it also times
the whole check of each delivery (read, scan, typing, quarantine, Great Expectations).
"""

from __future__ import annotations

import argparse
import shutil
import time
from collections import Counter
from pathlib import Path

import duckdb

from benchmarks.data import city_landing
from benchmarks.scales import SCALES


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--practices", type=int, default=SCALES["city"].practices)
    parser.add_argument("--quarters", default=SCALES["city"].quarters)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--full", action="store_true", help="also time the whole check of each delivery")
    parser.add_argument(
        "--work", type=Path, default=None, help="work folder (default /tmp/omu-bench/identifiers-N)"
    )
    args = parser.parse_args(argv)

    from omu.ingest import delivery
    from omu.ingest.manifest import read_manifest

    work = args.work or Path("/tmp/omu-bench") / f"identifiers-{args.practices}p-{args.quarters}-{args.seed}"
    info = city_landing(
        work / "landing",
        practices=args.practices,
        quarters=args.quarters,
        seed=args.seed,
    )
    read_s = scan_s = full_s = scan_cpu = full_cpu = 0.0
    alarms: Counter[str] = Counter()
    refused = 0
    vendors: Counter[str] = Counter()
    for folder in info.deliveries:
        manifest, problems = read_manifest(folder)
        assert manifest is not None and not problems, folder
        vendors[str(manifest.raw.get("his_vendor"))] += 1
        check = delivery.DeliveryCheck(folder, None, None, manifest)
        began = time.perf_counter()
        read_files = delivery._read_files(check, folder, manifest)
        read_s += time.perf_counter() - began
        began, cpu = time.perf_counter(), time.process_time()  # CPU: all threads, steadier on a busy machine
        with duckdb.connect() as conn:
            findings = delivery._direct_identifiers(conn, read_files)
        scan_s += time.perf_counter() - began
        scan_cpu += time.process_time() - cpu
        if findings:
            refused += 1
            alarms.update(f"{f.file} {f.column}" for f in findings)
        if args.full:
            stage = work / "stage"
            began, cpu = time.perf_counter(), time.process_time()
            delivery.check_delivery(folder, stage)
            full_s += time.perf_counter() - began
            full_cpu += time.process_time() - cpu
            shutil.rmtree(stage, ignore_errors=True)
    rows = sum(info.rows.values())
    print(
        f"deliveries: {len(info.deliveries)} ({', '.join(f'{v} {n}' for v, n in sorted(vendors.items()))}); "
        f"{rows:,} rows"
    )
    print(
        f"false alarms: {refused} deliveries refused"
        + (": " + "; ".join(f"{where} x{n}" for where, n in alarms.most_common()) if alarms else "")
    )
    print(
        f"read {read_s:.1f} s, identifier scan {scan_s:.1f} s wall / {scan_cpu:.1f} s CPU"
        + (
            f", whole check (read, scan, typing, GX) {full_s:.1f} s wall / {full_cpu:.1f} s CPU"
            if args.full
            else ""
        )
    )


if __name__ == "__main__":
    import os
    import sys

    main()
    sys.stdout.flush()
    os._exit(0)  # skip DuckDB 2's benign nanobind "leaked instances" report at shutdown
