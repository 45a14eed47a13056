"""The budget's data on the device: subsets, batches and augmentation."""

from pathlib import Path

import pytest
from fixtures import write_fashion_mnist

from se_tutorial.data import Augmentation, load_dataset
from se_tutorial.training import prepare_data

ROOT = Path(__file__).resolve().parents[2]


def test_training_set_smaller_than_a_batch_is_reported(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "small", train=40)))
    with pytest.raises(ValueError, match="fewer than one batch of 128"):
        prepare_data("fashion-mnist", budget="smoke", device="cpu")


def test_the_budget_decides_augmentation_unless_told(tmp_path, monkeypatch):
    from se_tutorial.training.prepare import DEFAULT_AUGMENTATION

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist")))
    dataset = load_dataset("fashion-mnist", download=False)
    assert prepare_data(dataset, budget="smoke", device="cpu").train.augmentation == DEFAULT_AUGMENTATION
    assert prepare_data(dataset, budget="brief", device="cpu").train.augmentation is None
    chosen = Augmentation(translate=1)
    assert (
        prepare_data(dataset, budget="brief", device="cpu", augmentation=chosen).train.augmentation is chosen
    )
    with pytest.raises(ValueError, match="unknown augmentation"):
        prepare_data(dataset, budget="brief", device="cpu", augmentation="random")
