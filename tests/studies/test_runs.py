"""One run: its model from the budget and the overrides, its arguments checked before any data."""

import pytest

from se_tutorial.nn import ModelSpec
from se_tutorial.studies import resolve_model, run
from se_tutorial.training import BUDGETS
from se_tutorial.utils.errors import ConfigurationError


def test_run_rejects_zero_epochs_and_learning_rate_instead_of_using_the_budgets(tmp_path, monkeypatch):

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "no-dataset-here"))
    with pytest.raises(ConfigurationError, match="epochs must be a positive integer"):
        run(budget="smoke", epochs=0)
    with pytest.raises(ConfigurationError, match="lr must be a positive finite number, got 0"):
        run(budget="smoke", lr=0)
    with pytest.raises(ConfigurationError, match="seed must be a whole number from 0"):
        run(budget="smoke", seed=-5)


def test_the_runs_model_is_the_budgets_network_with_the_overrides_and_the_runs_seed():
    brief = BUDGETS["brief"]
    assert resolve_model(None, brief, seed=2) == ModelSpec(depth=8, width=1, stem_stride=2, seed=2)
    spec = resolve_model({"attention": "se", "placement": "pre"}, brief, seed=2)
    assert (spec.depth, spec.attention, spec.placement, spec.seed) == (8, "se", "pre", 2)
    assert resolve_model(ModelSpec(depth=20), brief, seed=4) == ModelSpec(depth=20, seed=4)


def test_a_model_whose_seed_contradicts_the_runs_is_refused():
    with pytest.raises(ConfigurationError, match="the model's seed 1 is not the run's seed 0"):
        resolve_model(ModelSpec(depth=8, seed=1), BUDGETS["brief"], seed=0)
    with pytest.raises(ConfigurationError, match="the model's seed 1 is not the run's seed 0"):
        resolve_model({"seed": 1}, BUDGETS["brief"], seed=0)
    with pytest.raises(TypeError, match="model must be a ModelSpec, a dict of its fields or None"):
        resolve_model("se", BUDGETS["brief"], seed=0)
