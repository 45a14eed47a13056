"""Contrasts of a factorial: SE against plain, zero-init against standard, and whether the two interact.

The ``se-and-init`` sweep trains four networks per seed, {ResNet, SE-ResNet}
x {standard init, zero-init residual}, all four from the same seed-keyed
initial weights and batches. A *contrast* weighs the four accuracies of one
seed and adds them up, so each seed gives one number and the seeds are
independent repeats of it::

    SE - plain, standard init:   +1 se-resnet            -1 resnet
    interaction:                 +1 se-resnet, zero-init -1 resnet, zero-init
                                 -1 se-resnet            +1 resnet

The interaction asks whether zero-init changes what SE does: it is SE's effect
under zero-init minus SE's effect under the standard init. A contrast's mean
over seeds, with a Student-t interval, is :func:`~.stats.paired_difference` of
zero and the per-seed values (a one-sample interval). Variants are named by
``(sweep, variant)``, so a contrast can also use another sweep's runs (the
longer-training point) with the same seeds.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .stats import PairedDifference, paired_difference

#: A contrast: the weight of each ``(sweep, variant)``'s accuracy; the weights add up to zero.
Contrast = Mapping[tuple[str, str], int]

_F = "se-and-init"
#: The questions chapter 5 asks of the factorial and of the longer-training point, in its order.
CONTRASTS: dict[str, Contrast] = {
    "SE - plain, standard init": {(_F, "se-resnet"): 1, (_F, "resnet"): -1},
    "SE - plain, zero-init": {(_F, "se-resnet, zero-init"): 1, (_F, "resnet, zero-init"): -1},
    "zero-init - standard, plain": {(_F, "resnet, zero-init"): 1, (_F, "resnet"): -1},
    "zero-init - standard, SE": {(_F, "se-resnet, zero-init"): 1, (_F, "se-resnet"): -1},
    "interaction (SE's effect, zero-init - standard)": {
        (_F, "se-resnet, zero-init"): 1, (_F, "resnet, zero-init"): -1, (_F, "se-resnet"): -1, (_F, "resnet"): 1,
    },
    "SE - plain, 3x the epochs": {("longer-training", "se-resnet"): 1, ("longer-training", "resnet"): -1},
}  # fmt: skip


def per_seed(rows: Iterable[dict], contrast: Contrast, budget: str) -> dict[int, float]:
    """The contrast's value for every seed that has a run of each of its variants: ``{seed: value}``.

    >>> rows = [{"sweep": "s", "variant": v, "seed": 0, "budget": "b", "test_accuracy": a}
    ...         for v, a in (("x", 0.92), ("y", 0.91))]
    >>> {s: round(v, 4) for s, v in per_seed(rows, {("s", "x"): 1, ("s", "y"): -1}, "b").items()}
    {0: 0.01}
    """
    if sum(contrast.values()) != 0:
        raise ValueError(f"a contrast's weights must add up to 0, got {dict(contrast)}.")
    runs: dict[tuple[str, str], dict[int, float]] = {key: {} for key in contrast}
    for row in rows:
        key = (row.get("sweep"), row.get("variant"))
        if key in runs and row["budget"] == budget:
            runs[key].setdefault(row["seed"], row["test_accuracy"])  # a run recorded twice counts once
    seeds = set.intersection(*(set(by_seed) for by_seed in runs.values()))
    return {seed: sum(w * runs[key][seed] for key, w in contrast.items()) for seed in sorted(seeds)}


def estimate(values: Mapping[int, float], confidence: float = 0.95) -> PairedDifference:
    """The mean of a contrast's per-seed ``values`` with its interval, p-value and seeds above and below 0."""
    if len(values) < 2:
        raise ValueError(f"a contrast needs at least two seeds with every run, got {len(values)}.")
    return paired_difference([0.0] * len(values), list(values.values()), confidence)
