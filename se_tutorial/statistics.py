"""Statistics for comparing training runs over seeds: mean, spread, paired differences.

Two models trained with the same seed share their initial weights (in every
layer they have in common) and their batches, so their results are *paired*:
the difference within a seed removes the part of the noise both runs share.
:func:`paired_difference` gives that difference's mean with a Student-t
confidence interval.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def _t_cdf(t: float, df: int) -> float:
    """Student-t cumulative distribution, by Simpson integration of the density."""
    if t < 0:
        return 1 - _t_cdf(-t, df)
    log_norm = math.lgamma((df + 1) / 2) - math.lgamma(df / 2) - 0.5 * math.log(df * math.pi)
    density = lambda x: math.exp(log_norm - (df + 1) / 2 * math.log1p(x * x / df))  # noqa: E731
    steps = 2000  # even; the density is smooth, so this is exact to ~1e-10 for t < 100
    h = t / steps
    total = density(0) + density(t) + sum((4 if i % 2 else 2) * density(i * h) for i in range(1, steps))
    return 0.5 + total * h / 3


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom.

    >>> round(t_quantile(0.975, 2), 3), round(t_quantile(0.975, 4), 3)
    (4.303, 2.776)
    """
    if not 0.5 <= probability < 1:
        raise ValueError(f"probability must be in [0.5, 1), got {probability}.")
    if df < 1:
        raise ValueError(f"a t distribution needs at least 1 degree of freedom, got {df}.")
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < probability:
        high *= 2
    for _ in range(60):  # bisection to far below printing precision
        middle = (low + high) / 2
        low, high = (middle, high) if _t_cdf(middle, df) < probability else (low, middle)
    return (low + high) / 2


@dataclass(frozen=True)
class Summary:
    """Mean and sample standard deviation of ``n`` values (``std`` is NaN for one value)."""

    mean: float
    std: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.4f} +- {self.std:.4f} (n={self.n})"


def summarize(values: Sequence[float]) -> Summary:
    """Mean, standard deviation and count of ``values``."""
    if not values:
        raise ValueError("no values to summarize; run at least one seed.")
    spread = statistics.stdev(values) if len(values) > 1 else math.nan
    return Summary(statistics.fmean(values), spread, len(values))


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` over paired runs: mean, its confidence interval, and the runs' count."""

    mean: float
    low: float
    high: float
    confidence: float
    n: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of zero."""
        return self.low > 0 or self.high < 0


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedDifference:
    """Mean of ``b[i] - a[i]`` with a Student-t confidence interval (needs two or more pairs).

    >>> d = paired_difference([0.90, 0.91, 0.92], [0.91, 0.93, 0.93])
    >>> round(d.mean, 4), round(d.low, 4), round(d.high, 4)
    (0.0133, -0.001, 0.0277)
    """
    if len(a) != len(b):
        raise ValueError(f"paired results need equal counts, got {len(a)} and {len(b)}.")
    if len(a) < 2:
        raise ValueError("a confidence interval needs at least two paired runs (seeds).")
    differences = [y - x for x, y in zip(a, b, strict=True)]
    mean = statistics.fmean(differences)
    half = t_quantile((1 + confidence) / 2, len(a) - 1) * statistics.stdev(differences) / math.sqrt(len(a))
    return PairedDifference(mean, mean - half, mean + half, confidence, len(a))
