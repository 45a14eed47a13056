"""Budgets and the training configuration: defaults, the environment, bad values."""

from pathlib import Path

import pytest

from se_tutorial.training import TrainConfig, resolve_budget

ROOT = Path(__file__).resolve().parents[2]


def test_bad_configuration_is_reported():
    with pytest.raises(ValueError, match="lr must be a positive finite number"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="epochs"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="unknown budget"):
        resolve_budget("huge")


def test_budget_defaults_follow_the_device_and_the_environment(monkeypatch):
    assert resolve_budget(None, "cpu").name == "brief"
    assert resolve_budget(None, "cuda").name == "full"
    monkeypatch.setenv("SE_TUTORIAL_BUDGET", "smoke")
    assert resolve_budget(None, "cuda").name == "smoke"
