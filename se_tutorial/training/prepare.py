"""Data ready to train on: the budget's subsets of a dataset, on one device, in loaders.

``data = prepare_data("fashion-mnist", budget="brief")`` gives a :class:`Data`
with a shuffling (and, if the budget says so, augmenting) training loader and
a test loader, both holding their images on the training device.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..data import NORMALIZATION, Augmentation, DeviceLoader, ImageDataset, load_dataset, subset
from ..utils import checks
from .config import Budget, default_device, resolve_budget

#: Shifts of up to 2 pixels and left-right flips.
DEFAULT_AUGMENTATION = Augmentation()


@dataclass
class Data:
    """Training and test loaders on one device, with the dataset's class names."""

    train: DeviceLoader
    test: DeviceLoader
    classes: list[str]
    name: str
    source: str

    @property
    def in_channels(self) -> int:
        return self.train.images.shape[1]


def prepare_data(
    dataset: ImageDataset | str = "fashion-mnist",
    *,
    budget: Budget | str | None = None,
    device: torch.device | str | None = None,
    augmentation: Augmentation | str | None = "budget",
    seed: int = 0,
    rank: int = 0,
    world_size: int = 1,
) -> Data:
    """Load ``dataset`` (a name or an :class:`ImageDataset`) onto ``device`` at the budget's size.

    ``augmentation="budget"`` uses :data:`DEFAULT_AUGMENTATION` when the budget
    augments and none otherwise; pass an :class:`Augmentation` or ``None`` to choose.
    ``seed`` fixes the subsets and the order of the batches (and nothing else),
    so two models trained on the same ``Data`` see the same batches.
    """
    device = torch.device(device) if device is not None else default_device()
    budget = budget if isinstance(budget, Budget) else resolve_budget(budget, device)
    if isinstance(augmentation, str):
        checks.choice("augmentation", augmentation, ["budget"])
        augmentation = DEFAULT_AUGMENTATION if budget.augment else None
    if isinstance(dataset, str):
        dataset = load_dataset(dataset)
    mean, std = NORMALIZATION[dataset.name]
    train_images, train_labels = subset(dataset.train_images, dataset.train_labels, budget.train_subset, seed)
    test_images, test_labels = subset(dataset.test_images, dataset.test_labels, budget.test_subset, seed)
    if len(train_labels) < budget.batch_size:
        raise ValueError(
            f"the training set has {len(train_labels)} images, fewer than one batch of "
            f"{budget.batch_size}; use a larger train_subset or a smaller batch_size."
        )
    common = dict(device=device, mean=mean, std=std, rank=rank, world_size=world_size)
    train = DeviceLoader(
        train_images, train_labels, budget.batch_size, shuffle=True, augmentation=augmentation,
        seed=seed, drop_last=True, **common,
    )  # fmt: skip
    test = DeviceLoader(test_images, test_labels, 1024, **common)
    return Data(train, test, dataset.classes, dataset.name, dataset.source)
