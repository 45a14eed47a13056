"""Statistics for comparing training runs over seeds: mean, spread, paired differences.

Two models trained with the same seed share their initial weights (in every
layer they have in common) and their batches, so their results are *paired*:
the difference within a seed removes the part of the noise both runs share.
:func:`paired_difference` gives that difference's mean with a Student-t
confidence interval and the paired t test's p-value; :func:`sign_test` asks
only how many seeds went each way. The distributions come from
``scipy.stats``.
"""

from __future__ import annotations

import math
import numbers
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from scipy import stats


def t_quantile(probability: float, df: int) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom.

    >>> round(t_quantile(0.975, 2), 3), round(t_quantile(0.975, 4), 3), round(t_quantile(0.9995, 1), 1)
    (4.303, 2.776, 636.6)
    """
    if not _is_real(probability) or not 0.5 <= probability < 1:
        raise ValueError(f"probability must be in [0.5, 1), got {probability!r}.")
    if isinstance(df, bool) or not isinstance(df, numbers.Integral) or df < 1:
        raise ValueError(f"a t distribution needs a whole number of degrees of freedom >= 1, got {df!r}.")
    return float(stats.t.ppf(probability, df))


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def finite_values(values: Sequence[float], what: str = "values") -> list[float]:
    """``values`` as floats, or a clear error naming the first that is not a finite number."""
    checked = []
    for index, value in enumerate(values):
        if not _is_real(value):
            raise ValueError(
                f"{what} must be finite numbers, but item {index} is {value!r}; a NaN or infinite "
                "accuracy comes from a run that diverged: leave it out, or rerun it."
            )
        checked.append(float(value))
    return checked


def check_confidence(confidence: float) -> float:
    """``confidence`` if it is a fraction strictly between 0 and 1, else a clear error."""
    if _is_real(confidence) and 1 < confidence < 100:
        raise ValueError(f"confidence is a fraction: pass {confidence / 100:g} for {confidence:g}%.")
    if not _is_real(confidence) or not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1 (e.g. 0.95), got {confidence!r}.")
    return float(confidence)


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
    values = finite_values(values)
    spread = statistics.stdev(values) if len(values) > 1 else math.nan
    return Summary(statistics.fmean(values), spread, len(values))


@dataclass(frozen=True)
class PairedDifference:
    """``b - a`` over ``n`` paired runs: the mean, its confidence interval, the t test's p-value.

    ``higher`` and ``lower`` count the pairs in which ``b`` came out above and
    below ``a`` (ties count in neither).
    """

    mean: float
    low: float
    high: float
    confidence: float
    n: int
    p_value: float
    higher: int
    lower: int

    @property
    def excludes_zero(self) -> bool:
        """Whether the interval lies entirely on one side of zero."""
        return self.low > 0 or self.high < 0


def paired_difference(a: Sequence[float], b: Sequence[float], confidence: float = 0.95) -> PairedDifference:
    """Mean of ``b[i] - a[i]`` with a Student-t confidence interval (needs two or more pairs).

    >>> d = paired_difference([0.90, 0.91, 0.92], [0.91, 0.93, 0.93])
    >>> round(d.mean, 4), round(d.low, 4), round(d.high, 4), round(d.p_value, 3), d.higher
    (0.0133, -0.001, 0.0277, 0.057, 3)
    """
    if len(a) != len(b):
        raise ValueError(f"paired results need equal counts, got {len(a)} and {len(b)}.")
    if len(a) < 2:
        raise ValueError("a confidence interval needs at least two paired runs (seeds).")
    a, b = finite_values(a, "a"), finite_values(b, "b")
    confidence = check_confidence(confidence)
    differences = [y - x for x, y in zip(a, b, strict=True)]
    mean = statistics.fmean(differences)
    spread = statistics.stdev(differences)
    half = t_quantile((1 + confidence) / 2, len(a) - 1) * spread / math.sqrt(len(a))
    # A t test needs spread; with none, the differences are all the same number.
    p_value = float(stats.ttest_rel(b, a).pvalue) if spread > 0 else float(mean == 0)
    higher = sum(d > 0 for d in differences)
    lower = sum(d < 0 for d in differences)
    return PairedDifference(mean, mean - half, mean + half, confidence, len(a), p_value, higher, lower)


def sign_test(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided p-value that ``b`` beats ``a`` as often as it loses, from the signs alone.

    Ties are dropped (the usual convention); with no untied pair the answer is 1.

    >>> round(sign_test([0.90] * 10, [0.91] * 9 + [0.89]), 4)
    0.0215
    """
    if len(a) != len(b):
        raise ValueError(f"paired results need equal counts, got {len(a)} and {len(b)}.")
    a, b = finite_values(a, "a"), finite_values(b, "b")
    higher = sum(y > x for x, y in zip(a, b, strict=True))
    lower = sum(y < x for x, y in zip(a, b, strict=True))
    if higher + lower == 0:
        return 1.0
    return float(stats.binomtest(higher, higher + lower, 0.5).pvalue)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given (``statsmodels``' ``multipletests``).

    A family of comparisons read together (a chapter's intervals, say) finds
    something by chance more often than one comparison does; an adjusted
    p-value below 0.05 keeps the chance of *any* false finding in the family
    at 5%. Holm's method is uniformly more powerful than Bonferroni's.

    >>> [round(p, 3) for p in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    from statsmodels.stats.multitest import multipletests  # imported here: only the studies need it

    checked = finite_values(p_values, "p-values")
    if not checked:
        raise ValueError("no p-values to adjust; pass the family's p-values.")
    if any(not 0 <= p <= 1 for p in checked):
        raise ValueError(f"p-values must lie in [0, 1], got {checked}.")
    return [float(p) for p in multipletests(checked, method="holm")[1]]


@dataclass(frozen=True)
class FlippedPredictions:
    """How two classifiers' predictions on the same test images differ, with McNemar's exact test.

    ``became_right`` counts images the first got wrong and the second right,
    ``became_wrong`` the reverse, ``wrong_to_another`` images both got wrong
    with different classes. ``p_value`` is McNemar's exact test: under no
    difference in accuracy, each of the ``became_right + became_wrong``
    discordant images goes either way with probability 1/2.
    """

    became_right: int
    became_wrong: int
    wrong_to_another: int
    p_value: float

    @property
    def changed(self) -> int:
        """Every image whose predicted class changed."""
        return self.became_right + self.became_wrong + self.wrong_to_another


def flipped_predictions(labels, first, second) -> FlippedPredictions:
    """Compare two sets of predicted classes (``first``, ``second``) on the same ``labels``.

    Each is a sequence or 1-D tensor of class indices, one per test image.

    >>> f = flipped_predictions([0, 1, 2, 3], [0, 1, 0, 0], [0, 2, 2, 1])
    >>> f.became_right, f.became_wrong, f.wrong_to_another, f.changed, f.p_value
    (1, 1, 1, 3, 1.0)
    """
    labels, first, second = (list(map(int, values)) for values in (labels, first, second))
    if not len(labels) == len(first) == len(second):
        raise ValueError(
            f"labels and both predictions need one entry per image, got {len(labels)}, {len(first)}, "
            f"{len(second)}."
        )
    right = sum(a != y and b == y for y, a, b in zip(labels, first, second, strict=True))
    wrong = sum(a == y and b != y for y, a, b in zip(labels, first, second, strict=True))
    other = sum(a != y and b != y and a != b for y, a, b in zip(labels, first, second, strict=True))
    p_value = float(stats.binomtest(right, right + wrong, 0.5).pvalue) if right + wrong else 1.0
    return FlippedPredictions(right, wrong, other, p_value)


def accuracy_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The exact (Clopper-Pearson) interval of an accuracy measured on ``total`` test images.

    It says how far the accuracy of one trained network could move on another
    test set of the same size from the same distribution: the test-set floor
    under any comparison, beside the seed-to-seed spread.

    >>> low, high = accuracy_interval(9200, 10_000)
    >>> round(100 * low, 2), round(100 * high, 2)
    (91.45, 92.52)
    """
    if isinstance(correct, bool) or isinstance(total, bool) or not 0 <= correct <= total or total < 1:
        raise ValueError(f"need 0 <= correct <= total and total >= 1, got {correct} of {total}.")
    interval = stats.binomtest(int(correct), int(total)).proportion_ci(check_confidence(confidence))
    return float(interval.low), float(interval.high)
