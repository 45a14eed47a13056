"""One entry point for the datasets: :func:`load_dataset` by name."""

from __future__ import annotations

from ..utils import checks
from .cifar10 import load_cifar10
from .dataset import DATASETS, ImageDataset
from .fashion_mnist import load_fashion_mnist


def load_dataset(name: str = "fashion-mnist", download: bool = True) -> ImageDataset:
    """Load ``"fashion-mnist"`` or ``"cifar10"`` as :class:`ImageDataset`."""
    name = checks.choice("dataset", name, DATASETS)
    return load_fashion_mnist(download) if name == "fashion-mnist" else load_cifar10(download)
