"""What the benchmarks share: writing results with provenance (atomically), and timing passes in turns."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from se_tutorial.utils.files import atomic_write_text
from se_tutorial.utils.provenance import git_commit, provenance

#: The commit checked out when the benchmark was started.
COMMIT_AT_START = git_commit()


def write_results(
    path: str | Path,
    benchmark: str,
    device: torch.device | str,
    *,
    origin: dict | None = None,
    **fields: object,
) -> Path:
    """Write ``fields`` as JSON to ``path`` after the benchmark's name, provenance and thread count.

    The commit is the one checked out when the benchmark started (the code
    that ran, whatever happened to the tree meanwhile). ``origin`` replaces
    the whole provenance with one taken at the start.
    """
    origin = origin or {**provenance(device), "commit": COMMIT_AT_START}
    record = {"benchmark": benchmark, **origin, "threads": torch.get_num_threads(), **fields}
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    print(f"wrote {path}")
    return Path(path)


def interleaved_rounds(
    passes: dict[str, Callable[[], None]], rounds: int, repeats: int
) -> dict[str, list[float]]:
    """Each pass's median time in every round, taken in turns: in each round each pass runs ``repeats`` times.

    Times of one round were taken within moments of each other, so their
    ratios (:func:`median_ratio`) cancel a slow spell of a shared machine.
    """
    medians: dict[str, list[float]] = {name: [] for name in passes}
    for _ in range(rounds):
        for name, one_pass in passes.items():
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                one_pass()
                times.append(time.perf_counter() - start)
            medians[name].append(statistics.median(times))
    return medians


def interleaved_seconds(passes: dict[str, Callable[[], None]], rounds: int, repeats: int) -> dict[str, float]:
    """Each pass's time: the median over rounds of its median in a round (:func:`interleaved_rounds`).

    A slow spell of a shared machine hits all passes alike and does not skew one.
    """
    return {
        name: statistics.median(values)
        for name, values in interleaved_rounds(passes, rounds, repeats).items()
    }


def alternating_runs(runs: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Each run's time in every round, one call each, in turns: in the listed order, then reversed.

    Calls of one round follow each other within milliseconds, so their ratios
    (:func:`median_ratio`) cancel the slow spells of a shared machine, which
    last longer than that; reversing the order every other round gives no run
    the same place in every round (after the same neighbour, with the same
    caches).
    """
    seconds: dict[str, list[float]] = {name: [] for name in runs}
    order = list(runs)
    for round_ in range(rounds):
        for name in order if round_ % 2 == 0 else order[::-1]:
            start = time.perf_counter()
            runs[name]()
            seconds[name].append(time.perf_counter() - start)
    return seconds


def median_ratio(numerator: list[float], denominator: list[float], confidence: float = 0.95) -> dict:
    """The median of the rounds' ratios ``numerator / denominator``, with a bootstrap interval for it.

    The interval is the percentile bootstrap's (``scipy.stats.bootstrap``,
    resampling the rounds, a fixed seed so that a file can be checked again);
    with fewer than three rounds it is the ratios' range.
    """
    ratios = np.asarray(numerator) / np.asarray(denominator)
    if len(ratios) < 3:
        low, high = float(ratios.min()), float(ratios.max())
    else:
        interval = stats.bootstrap(
            (ratios,), np.median, confidence_level=confidence, method="percentile",
            n_resamples=4000, random_state=np.random.default_rng(0),
        ).confidence_interval  # fmt: skip
        low, high = float(interval.low), float(interval.high)
    return {"median": float(np.median(ratios)), "interval": [low, high], "confidence": confidence}
