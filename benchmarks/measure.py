"""Timing and peak memory of one benchmark stage.

Wall clock: time.perf_counter. CPU: process CPU time of this process plus its children
(psutil), so a stage that fans out to worker processes shows how many of the 2 cores it used.
Peak memory: the largest resident set size (RSS) of this process plus all its live child
processes, sampled by psutil every 20 ms while the stage runs. DuckDB, polars and pandas all
allocate inside the process, so their memory is in the RSS. A sample can miss a peak shorter
than 20 ms; `ru_maxrss` (resource.getrusage, the kernel's own high-water mark of the largest
single process) is recorded once per run as a cross-check. Every `*_mb` figure is in MiB (2**20
bytes).
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from typing import Any

import psutil

SAMPLE_SECONDS = 0.02


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    try:
        total += process.memory_info().rss
        children = process.children(recursive=True)
    except psutil.Error:
        return total
    for child in children:
        with suppress(psutil.Error):
            total += child.memory_info().rss
    return total


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system + times.children_user + times.children_system


class PeakSampler:
    """RSS of this process tree, sampled in a thread until stopped; peak and start in bytes."""

    def __init__(self, interval: float = SAMPLE_SECONDS) -> None:
        self.process = psutil.Process()
        self.interval = interval
        self.start_rss = _tree_rss(self.process)
        self.peak = self.start_rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, _tree_rss(self.process))

    def __enter__(self) -> PeakSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss(self.process))


@dataclass
class StageResult:
    name: str
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    start_rss_mb: float
    status: str = "ok"  # ok | skipped | failed
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Stages:
    """The stages of one benchmark run, in order."""

    def __init__(self) -> None:
        self.results: list[StageResult] = []

    @contextmanager
    def stage(self, name: str, note: str = "") -> Iterator[StageResult]:
        process = psutil.Process()
        result = StageResult(name, 0.0, 0.0, 0.0, 0.0, note=note)
        self.results.append(result)
        cpu_before = _cpu_seconds(process)
        sampler = PeakSampler()
        began = time.perf_counter()
        try:
            with sampler:
                yield result
        except Exception as error:
            result.status = "failed"
            result.note = (result.note + "; " if result.note else "") + f"{type(error).__name__}: {error}"
            raise
        finally:
            result.seconds = time.perf_counter() - began
            # worker processes still alive at the end are not in children_* yet: a stage that
            # uses them adds their CPU as details["worker_cpu_seconds"]
            result.cpu_seconds = (
                _cpu_seconds(process) - cpu_before + result.details.get("worker_cpu_seconds", 0.0)
            )
            result.peak_rss_mb = sampler.peak / 2**20
            result.start_rss_mb = sampler.start_rss / 2**20

    def skipped(self, name: str, note: str) -> StageResult:
        result = StageResult(name, 0.0, 0.0, 0.0, 0.0, status="skipped", note=note)
        self.results.append(result)
        return result

    def get(self, name: str) -> StageResult | None:
        return next((r for r in self.results if r.name == name), None)

    def seconds(self, name: str) -> float:
        result = self.get(name)
        return result.seconds if result and result.status == "ok" else float("nan")


def max_rss_mb() -> dict[str, float]:
    """The kernel's high-water marks (Linux: kilobytes): this process, and its largest child."""
    return {
        "self_ru_maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_ru_maxrss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def machine() -> dict[str, Any]:
    """What the figures were measured on, including how busy the machine was."""
    import platform

    load = psutil.getloadavg()
    memory = psutil.virtual_memory()
    return {
        "cpus": psutil.cpu_count(logical=True),
        "memory_gb": round(memory.total / 2**30, 1),
        "available_gb_at_start": round(memory.available / 2**30, 1),
        "load_average_at_start": [round(x, 2) for x in load],
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
