"""Helpers shared by the benchmarks."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

# The repo root, so benchmarks can reuse tests.conftest.serve (the live-server helper).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def best_of(fn, repeat: int) -> float:
    """Fastest of ``repeat`` runs in seconds: the figure least disturbed by other load (timeit's rule)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def peak_mb() -> float:
    """Peak resident memory of this process so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed_runs(fn, repeat: int) -> list[float]:
    """Every one of ``repeat`` runs in seconds (``fn`` gets the run's number), for medians and tails."""
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t)
    return times


def percentile_ms(times, q: float) -> float:
    """The ``q``-th percentile of ``times`` (seconds), in milliseconds."""
    import numpy as np

    return float(np.percentile(np.asarray(times, dtype=float), q) * 1000) if len(times) else float("nan")


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
