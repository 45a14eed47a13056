"""Contrasts of the factorial against hand computations."""

import pytest

from se_tutorial.studies.contrasts import CONTRASTS, estimate, per_seed
from se_tutorial.studies.sweeps import SWEEPS

F = "se-and-init"


def row(variant, seed, accuracy, sweep=F, budget="brief"):
    return {"sweep": sweep, "variant": variant, "seed": seed, "test_accuracy": accuracy, "budget": budget}


def factorial():
    """Seeds 0-2 of the four networks; seed 2 lacks its zero-init SE-ResNet."""
    accuracies = {
        "resnet": (0.920, 0.924, 0.922),
        "se-resnet": (0.918, 0.925, 0.919),
        "resnet, zero-init": (0.919, 0.921, 0.920),
        "se-resnet, zero-init": (0.915, 0.919),
    }
    return [row(v, s, a) for v, values in accuracies.items() for s, a in enumerate(values)]


def test_every_contrast_names_real_variants_and_its_weights_add_up_to_zero():
    for weights in CONTRASTS.values():
        assert sum(weights.values()) == 0
        assert all(variant in SWEEPS[sweep].variants for sweep, variant in weights)


def test_per_seed_values_by_hand_and_only_complete_seeds():
    rows = factorial()
    se = per_seed(rows, CONTRASTS["SE - plain, standard init"], "brief")
    assert se == pytest.approx({0: -0.002, 1: 0.001, 2: -0.003})
    interaction = per_seed(rows, CONTRASTS["interaction (SE's effect, zero-init - standard)"], "brief")
    # seed 0: (0.915 - 0.919) - (0.918 - 0.920) = -0.002; seed 1: (0.919 - 0.921) - (0.925 - 0.924) = -0.003
    assert interaction == pytest.approx({0: -0.002, 1: -0.003})  # seed 2 is incomplete
    assert per_seed(rows, CONTRASTS["SE - plain, standard init"], "smoke") == {}
    repeated = [*rows, row("resnet", 0, 0.5)]  # a run recorded twice counts once: the first row
    assert per_seed(repeated, CONTRASTS["SE - plain, standard init"], "brief")[0] == pytest.approx(-0.002)
    with pytest.raises(ValueError, match="add up to 0"):
        per_seed(rows, {(F, "resnet"): 1}, "brief")


def test_an_estimate_is_a_one_sample_interval():
    # values -2, +1, -3 (points): mean -4/3, sd 2.082; t(0.975, 2) = 4.303: half-width 5.17.
    d = estimate({0: -0.02, 1: 0.01, 2: -0.03})
    assert d.mean == pytest.approx(-0.04 / 3)
    assert d.high - d.mean == pytest.approx(4.3027 * 0.020817 / 3**0.5, abs=1e-4)
    assert (d.higher, d.lower, d.n) == (1, 2, 3)
    with pytest.raises(ValueError, match="at least two seeds"):
        estimate({0: 0.01})
