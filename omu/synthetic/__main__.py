"""python -m omu.synthetic --out landing --truth truth --practices 3 --quarters 2026Q2:2026Q3 --seed 1"""

from __future__ import annotations

import argparse
from pathlib import Path

from omu.quarters import quarter_range
from omu.synthetic.generator import generate


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m omu.synthetic", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="landing folder to write deliveries into")
    parser.add_argument("--truth", type=Path, default=None, help="folder for the truth (outside the landing)")
    parser.add_argument("--practices", type=int, default=3)
    parser.add_argument("--quarters", default="2026Q3", help="e.g. 2026Q3 or 2025Q3:2026Q3")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--patients", default="2000:12000", help="MIN:MAX registered at the first quarter")
    parser.add_argument("--history-years", type=int, default=5)
    args = parser.parse_args(argv)
    low, _, high = args.patients.partition(":")
    summary = generate(
        args.out,
        practices=args.practices,
        quarters=quarter_range(args.quarters),
        seed=args.seed,
        patients=(int(low), int(high or low)),
        truth_dir=args.truth,
        history_years=args.history_years,
        progress=print,
    )
    print(
        f"{summary.deliveries} deliveries, {summary.patients_at_first_quarter} patients at the first quarter, "
        f"{summary.seconds:.1f} s; rows: {summary.rows}"
    )


if __name__ == "__main__":
    main()
