"""A loader that keeps a whole dataset on the training device and makes every batch there.

Shuffling, random translation, horizontal flip and random erasing are a few
batched tensor operations, with no per-sample Python - which is what keeps a
GPU busy on a 28x28 dataset - and each epoch's randomness comes from a
generator seeded by ``(seed, epoch)``, so any epoch can be replayed exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from ..utils import checks
from .augmentation import Augmentation


@dataclass
class DeviceLoader:
    """Batches of a whole dataset held on ``device``: ``(images, labels)`` per step.

    Images are normalised once, on the device; each epoch draws its permutation
    and augmentation from a generator seeded by ``(seed, epoch)``, so any epoch
    can be replayed exactly (which is what makes resuming bitwise-identical).
    Under distributed training each of ``world_size`` ranks takes its share of
    every batch.

    Shape per step: images ``(B, C, H, W)`` float, labels ``(B,)`` int64.
    """

    images: torch.Tensor
    labels: torch.Tensor
    batch_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    device: torch.device | str = "cpu"
    shuffle: bool = False
    augmentation: Augmentation | None = None
    seed: int = 0
    drop_last: bool = False
    rank: int = 0
    world_size: int = 1
    epoch: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        checks.positive_int("batch_size", self.batch_size)
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels; they must match.")
        self.device = torch.device(self.device)
        mean = torch.tensor(self.mean, device=self.device)[None, :, None, None]
        std = torch.tensor(self.std, device=self.device)[None, :, None, None]
        self.images = (self.images.to(self.device).float() / 255 - mean) / std
        self.labels = self.labels.to(self.device)

    def __len__(self) -> int:
        steps, rest = divmod(len(self.labels), self.batch_size)
        return steps if self.drop_last or not rest else steps + 1

    def set_epoch(self, epoch: int) -> None:
        """Choose which epoch's shuffle and augmentation the next iteration replays."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = torch.Generator(device=self.device)
        generator.manual_seed(self.seed * 1_000_003 + self.epoch)
        count = len(self.labels)
        if self.shuffle:
            order = torch.randperm(count, device=self.device, generator=generator)
        else:
            order = torch.arange(count, device=self.device)
        for step in range(len(self)):
            index = order[step * self.batch_size : (step + 1) * self.batch_size]
            index = index[self.rank :: self.world_size]
            images = self.images[index]
            if self.augmentation is not None:
                images = self.augmentation(images, generator)
            yield images, self.labels[index]
        self.epoch += 1


def subset(images: torch.Tensor, labels: torch.Tensor, size: int | None, seed: int = 0):
    """A class-balanced-in-expectation random subset of ``size`` examples (all when ``None``)."""
    if size is None or size >= len(labels):
        return images, labels
    generator = torch.Generator().manual_seed(seed)
    index = torch.randperm(len(labels), generator=generator)[: checks.positive_int("subset size", size)]
    return images[index], labels[index]
