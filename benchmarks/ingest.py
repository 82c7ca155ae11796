"""Validate + ingest every delivery the way omu does it, with the time of each phase.

Each delivery goes through omu.ingest.load.ingest_delivery: check outside the store lock
(read, direct identifiers, type + quarantine in SQL, stage Parquet, Great Expectations), then
one short transaction under the lock. With workers > 1, separate processes check practices in
parallel (the design for Dagster's multiprocess executor) and queue on the store lock for the
merge; a practice's deliveries stay in quarter order within one worker.

The phases are timed by wrapping the functions omu itself calls (no change to omu): time spent
waiting for the store lock is counted apart from the merge.

    python -m benchmarks.ingest [--practices 10] [--rounds 3] [--work DIR]

measures one quarter of generated practices (city sizes) ingested one by one (ingest_delivery
each) against the same deliveries as one batch (ingest_deliveries: one Great Expectations
validation), side by side in one process, each round into two fresh stores in alternating
order; it prints wall and CPU seconds of both and their ratio.
"""

from __future__ import annotations

import argparse
import atexit
import os
import shutil
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager, suppress
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import psutil

PHASES = (
    "read",
    "direct_identifiers",
    "type_quarantine_stage",
    "great_expectations",
    "reports",
    "lock_wait",
    "merge",
    "store_facts",
)

_timings: dict[str, float] = defaultdict(float)
_installed = False


def _timed(name: str, function: Callable) -> Callable:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            _timings[name] += time.perf_counter() - began

    wrapper.__wrapped__ = function  # type: ignore[attr-defined]
    return wrapper


def install_phase_timers() -> None:
    """Wrap the ingest functions of this process once (benchmark processes only)."""
    global _installed
    if _installed:
        return
    from omu import store
    from omu.ingest import delivery, load

    delivery._read_files = _timed("read", delivery._read_files)
    delivery._direct_identifiers = _timed("direct_identifiers", delivery._direct_identifiers)
    delivery._type_and_quarantine = _timed("type_quarantine_stage", delivery._type_and_quarantine)
    delivery._validate_staged = _timed("great_expectations", delivery._validate_staged)
    load.write_delivery_outputs = _timed("reports", load.write_delivery_outputs)
    load.merge_delivery = _timed("merge", load.merge_delivery)
    load.record_refusal = _timed("merge", load.record_refusal)
    load.store_facts = _timed("store_facts", load.store_facts)
    original_lock = store.store_lock

    @contextmanager
    def timed_lock(database: Path, timeout_seconds: float = 3600) -> Iterator[None]:
        began = time.perf_counter()
        with original_lock(database, timeout_seconds):
            _timings["lock_wait"] += time.perf_counter() - began
            yield

    store.store_lock = timed_lock
    _installed = True


def _ingest_chain(home_root: str, delivery_dirs: list[str]) -> list[dict[str, Any]]:
    """One practice's deliveries in quarter order; runs in a worker process (or in this one)."""
    from omu.home import OmuHome
    from omu.ingest.load import ingest_delivery

    install_phase_timers()
    home = OmuHome(Path(home_root))
    out = []
    for delivery_dir in delivery_dirs:
        _timings.clear()
        began = time.perf_counter()
        outcome = ingest_delivery(home, Path(delivery_dir))
        seconds = time.perf_counter() - began
        out.append(
            {
                "delivery": f"{outcome.practice_id} {outcome.quarter}",
                "status": outcome.status,
                "reason": outcome.reason,
                "seconds": seconds,
                "phases": dict(_timings),
                "pid": os.getpid(),
            }
        )
    return out


def _quiet_exit() -> None:
    """End a worker process without DuckDB 2's benign nanobind "leaked instances" report (the omu
    script does the same, see pipelines/cli.py main)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _worker_start() -> None:
    os.environ["GX_ANALYTICS_ENABLED"] = "False"
    atexit.register(_quiet_exit)


def warm_up(seconds: float = 0.0) -> int:
    """Import what ingest imports (Great Expectations alone takes 5-12 s here), once per process."""
    import great_expectations  # noqa: F401

    import omu.ingest.expectations  # noqa: F401
    import omu.ingest.load  # noqa: F401

    time.sleep(seconds)  # keeps this worker busy so the next warm-up lands on another one
    return os.getpid()


class IngestPool:
    """Worker processes for ingest, started and warmed up (imports done) before the timing."""

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self.pool: ProcessPoolExecutor | None = None
        self.warm_pids: set[int] = set()

    def __enter__(self) -> IngestPool:
        if self.workers <= 1:
            self.warm_pids = {warm_up()}
            return self
        # spawn, not fork: the parent holds DuckDB connections and threads (the memory sampler)
        self.pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=get_context("spawn"), initializer=_worker_start
        )
        self.pool.__enter__()
        futures = [self.pool.submit(warm_up, 1.0) for _ in range(self.workers)]
        self.warm_pids = {future.result() for future in futures}
        self.startup_cpu = self.worker_cpu()
        return self

    startup_cpu = 0.0

    def worker_cpu(self) -> float:
        """CPU seconds the live worker processes have used so far (their own, not yet reaped)."""
        total = 0.0
        for pid in self.warm_pids if self.pool is not None else ():
            with suppress(psutil.Error):
                times = psutil.Process(pid).cpu_times()
                total += times.user + times.system
        return total

    def __exit__(self, *exc: Any) -> None:
        if self.pool is not None:
            self.pool.__exit__(*exc)


def ingest_all(home_root: Path, deliveries: list[Path], pool: IngestPool) -> dict[str, Any]:
    """Ingest every delivery; returns per-delivery results and phase totals (seconds summed over
    deliveries, so with 2 workers they add up to about twice the wall clock)."""
    chains: dict[str, list[str]] = defaultdict(list)
    for delivery in sorted(deliveries, key=lambda d: (d.parent.name, d.name)):
        chains[delivery.parent.name].append(str(delivery))
    results: list[dict[str, Any]] = []
    if pool.pool is None:
        for chain in chains.values():
            results += _ingest_chain(str(home_root), chain)
    else:
        futures = [pool.pool.submit(_ingest_chain, str(home_root), chain) for chain in chains.values()]
        for future in futures:
            results += future.result()
    totals: dict[str, float] = defaultdict(float)
    for result in results:
        for phase, seconds in result["phases"].items():
            totals[phase] += seconds
    return {
        "deliveries": len(results),
        "loaded": sum(r["status"] == "loaded" for r in results),
        "refused": [r for r in results if r["status"] == "refused"],
        "delivery_seconds_sum": sum(r["seconds"] for r in results),
        "phase_seconds_sum": {phase: round(totals.get(phase, 0.0), 3) for phase in PHASES},
        "per_delivery": results,
    }


def batch_vs_one_by_one(deliveries: list[Path], work: Path, rounds: int) -> dict[str, Any]:
    """Wall and CPU seconds of ingesting `deliveries` one by one and as one batch, each round into
    fresh stores, alternating which goes first; medians over the rounds."""
    from omu.home import OmuHome
    from omu.ingest.load import ingest_deliveries, ingest_delivery

    install_phase_timers()
    warm_up()
    # the GX context and suites are built once per process: build them before the timing
    ingest_delivery(OmuHome.resolve(work / "warm-up").prepare(), deliveries[0])
    ways = {
        "one_by_one": lambda home: [ingest_delivery(home, d) for d in deliveries],
        "batch": lambda home: ingest_deliveries(home, deliveries),
    }
    times: dict[str, dict[str, list[float]]] = {way: defaultdict(list) for way in ways}
    for number in range(rounds):
        order = list(ways) if number % 2 == 0 else list(reversed(ways))
        for way in order:
            home = OmuHome.resolve(work / f"{way}-{number}").prepare()
            _timings.clear()
            began, cpu = time.perf_counter(), time.process_time()
            outcomes = ways[way](home)
            times[way]["wall"].append(time.perf_counter() - began)
            times[way]["cpu"].append(time.process_time() - cpu)
            times[way]["great_expectations"].append(_timings["great_expectations"])
            if any(outcome.status != "loaded" for outcome in outcomes):
                raise RuntimeError(f"{way}: not every delivery loaded")
            shutil.rmtree(home.root, ignore_errors=True)
    return {
        way: {measure: statistics.median(values) for measure, values in measures.items()}
        for way, measures in times.items()
    }


def main(argv: list[str] | None = None) -> None:
    from benchmarks.data import city_landing
    from benchmarks.scales import SCALES

    parser = argparse.ArgumentParser(description="ingest one by one against one batch, side by side")
    parser.add_argument("--practices", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--work", type=Path, default=None, help="default /tmp/omu-bench/ingest-batch-N")
    args = parser.parse_args(argv)
    work = args.work or Path("/tmp/omu-bench") / f"ingest-batch-{args.practices}p-{args.seed}"
    info = city_landing(
        work / "landing", practices=args.practices, quarters=SCALES["city"].quarters, seed=args.seed
    )
    result = batch_vs_one_by_one(info.deliveries, work / "homes", args.rounds)
    one, batch = result["one_by_one"], result["batch"]
    print(
        f"{len(info.deliveries)} deliveries, {sum(info.rows.values()):,} rows; medians of {args.rounds} rounds"
    )
    for way, measured in result.items():
        print(
            f"{way:>10}: {measured['wall']:.2f} s wall, {measured['cpu']:.2f} s CPU, "
            f"Great Expectations {measured['great_expectations']:.2f} s"
        )
    print(
        f"one by one / batch: {one['wall'] / batch['wall']:.2f}x wall, {one['cpu'] / batch['cpu']:.2f}x CPU, "
        f"Great Expectations {one['great_expectations'] / batch['great_expectations']:.1f}x"
    )


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # skip DuckDB 2's benign nanobind "leaked instances" report at shutdown
