"""A labelled image dataset as tensors, the datasets the book knows, and what can go wrong finding them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..utils.errors import SETutorialError

#: Per-channel mean and standard deviation of the training images, in [0, 1] units.
NORMALIZATION = {
    "fashion-mnist": ((0.2860,), (0.3530,)),
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
}
DATASETS = tuple(NORMALIZATION)


class DatasetNotFoundError(SETutorialError, FileNotFoundError):
    """No copy of the dataset was found and none could be downloaded."""


class CorruptDatasetError(SETutorialError, ValueError):
    """A dataset file exists but cannot be read (truncated or damaged)."""


class CacheWriteError(SETutorialError, OSError):
    """The decompressed copy of a good dataset file could not be written to the cache."""


class DownloadError(SETutorialError, OSError):
    """A download failed, stalled or delivered a damaged file."""


@dataclass
class ImageDataset:
    """A labelled image dataset held as CPU tensors.

    Images are ``uint8`` of shape ``(N, C, H, W)``; labels are ``int64`` ``(N,)``.
    """

    name: str
    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]
    source: str  #: where the files were found, for the reader and the results

    @property
    def in_channels(self) -> int:
        return self.train_images.shape[1]


def data_roots() -> list[tuple[Path, str]]:
    """Folders searched for data, in order, each with a description."""
    roots = []
    if os.environ.get("SE_TUTORIAL_DATA"):
        roots.append((Path(os.environ["SE_TUTORIAL_DATA"]), "$SE_TUTORIAL_DATA"))
    roots.append((Path("data"), "./data"))
    return roots
