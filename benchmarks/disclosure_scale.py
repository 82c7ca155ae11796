"""How long the joint disclosure audit takes for one quarter of a region of a given size.

Builds the region directly as count tables (practice x wijk counts drawn with a fixed seed, summed
to practice, wijk and region rows as the SQL does), runs omu.dashboards.disclosure.protect on it and
reports the time and how many counts are shown.  No ingest: this measures the audit only.

    .venv/bin/python -m benchmarks.disclosure_scale --practices 120 --patients 2000:4000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import polars as pl

from omu.dashboards.disclosure import Version, protect
from omu.dashboards.indicators import TIED, person_count_columns, suppression_spec
from omu.outreach.lists import REFERRAL_TARGETS
from omu.reference import wijken as reference_wijken
from omu.screening.profile import DEFAULT_PROFILE, load_profile


def region(practices: int, patients: tuple[int, int], seed: int = 0) -> tuple[Version, list]:
    """One quarter's first version (nothing hidden yet) and the relations of the profile."""
    profile = load_profile(DEFAULT_PROFILE)
    columns = person_count_columns(profile)
    relations = suppression_spec(profile)["column_totals"]
    rows = reference_wijken()
    wijken = [*rows["wijk_code"], "OVERIG"]
    deprived = set(rows.filter(pl.col("deprivation_group") == "hoog")["wijk_code"])
    rng = np.random.default_rng(seed)
    col = {c: j for j, c in enumerate(columns)}
    chars = [c for c in columns if c.startswith("char_n:")]
    cells: dict[tuple[str, str], np.ndarray] = {}
    for p in range(practices):
        size = int(rng.integers(patients[0], patients[1] + 1))
        home = int(rng.integers(len(wijken)))
        # most patients live in the practice's own wijk, some next door, a few scattered further
        share = rng.dirichlet(np.full(len(wijken), 0.3))
        share = 0.15 * share
        share[home] += 0.7
        share[(home + 1) % len(wijken)] += 0.15
        counts = rng.multinomial(size, share / share.sum())
        for w, n in zip(wijken, counts, strict=True):
            if n == 0:
                continue
            c = np.zeros(len(columns), dtype=np.int64)
            c[col["registered"]] = n
            c[col["over_threshold"]] = over = rng.binomial(n, 0.08)
            c[col["first_time"]] = first = rng.binomial(over, 0.3)
            c[col["baseline"]] = rng.binomial(over - first, 0.8)
            for ch in chars:
                c[col[ch]] = rng.binomial(n, rng.choice([0.03, 0.1, 0.3]))
            c[col["in_deprived_wijk"]] = n if w in deprived else 0
            c[col["listed"]] = listed = rng.binomial(first, 0.9)
            reached = rng.binomial(listed, 0.6)
            c[col["not_reached"]] = rng.binomial(listed - reached, 0.5)
            c[col["already_in_care"]] = rng.binomial(listed - reached - c[col["not_reached"]], 0.5)
            c[col["reached"]] = reached
            c[col["referred"]] = referred = rng.binomial(reached, 0.4)
            left = referred
            for t in REFERRAL_TARGETS:
                c[col[f"referred_to:{t}"]] = k = rng.binomial(left, 0.4)
                left -= k
            cells[(f"P{p + 1:04d}", w)] = c
    served = sorted(cells)
    areas = (
        [("regio", "REGIO")]
        + [("wijk", w) for w in sorted(wijken)]
        + [("praktijk", p) for p in sorted({p for p, _ in served})]
    )
    exact = np.zeros((len(areas), len(columns)), dtype=np.int64)
    for i, (level, area) in enumerate(areas):
        for (practice, wijk), counts in cells.items():
            if (
                level == "regio"
                or (level == "wijk" and wijk == area)
                or (level == "praktijk" and practice == area)
            ):
                exact[i] += counts
    return Version(areas, columns, exact, np.zeros(exact.shape, dtype=bool), served, TIED), relations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practices", type=int, default=120)
    parser.add_argument("--patients", default="2000:4000", help="practice size range, low:high")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    low, high = (int(x) for x in args.patients.split(":"))
    version, relations = region(args.practices, (low, high), args.seed)
    start = time.perf_counter()
    hidden = protect([version], relations)
    seconds = time.perf_counter() - start
    exact = version.exact
    large = exact >= 8
    print(
        f"practices={args.practices} served_pairs={len(version.served)} cells={exact.size} "
        f"seconds={seconds:.1f} hidden={int(hidden.sum())} "
        f"shown_of_8plus={int((large & ~hidden).sum())}/{int(large.sum())}"
    )


if __name__ == "__main__":
    main()
