import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests import their fixtures module


@pytest.fixture(autouse=True)
def isolated_data_paths(tmp_path, monkeypatch):
    """Each test starts in an empty folder, with its own cache and no system dataset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SE_TUTORIAL_DATA", raising=False)
    monkeypatch.delenv("SE_TUTORIAL_BUDGET", raising=False)
    monkeypatch.setenv("SE_TUTORIAL_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        "se_tutorial.data.fashion_mnist.SYSTEM_FASHION_MNIST_DIRS", [tmp_path / "no-system-copy"]
    )


@pytest.fixture
def tiny_data(tmp_path, monkeypatch):
    """512 training and 256 test images of learnable stripes, on the CPU, in TINY's loaders."""
    from fixtures import TINY, write_fashion_mnist

    from se_tutorial.data import Augmentation, load_dataset
    from se_tutorial.training import prepare_data

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "fmnist", train=512, test=256)))
    augmentation = Augmentation(translate=1, flip=False)  # light: one-pixel shifts only
    return prepare_data(
        load_dataset("fashion-mnist", download=False), budget=TINY, device="cpu", augmentation=augmentation
    )
