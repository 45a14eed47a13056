"""CIFAR-10 through torchvision, from ``$SE_TUTORIAL_DATA`` or ``./data``, downloading there if allowed."""

from __future__ import annotations

import socket

import torch
import torchvision

from ..utils.fetch import DOWNLOAD_TIMEOUT
from .dataset import DatasetNotFoundError, ImageDataset, data_roots


def load_cifar10(download: bool = True) -> ImageDataset:
    """CIFAR-10 through torchvision, from ``$SE_TUTORIAL_DATA`` or ``./data`` (downloading there)."""
    root = data_roots()[0][0]
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_TIMEOUT)  # torchvision's download has no timeout of its own
    try:
        splits = [torchvision.datasets.CIFAR10(str(root), train=t, download=download) for t in (True, False)]
    except RuntimeError as error:
        raise DatasetNotFoundError(
            f"CIFAR-10 was not found or is corrupted in {root} ({error}). Fix it either way: run "
            f"where torchvision can download it (download=True), or put an intact "
            f"cifar-10-batches-py folder in {root} (or in a folder named by $SE_TUTORIAL_DATA)."
        ) from None
    except OSError as error:
        raise DatasetNotFoundError(
            f"CIFAR-10 could not be downloaded into {root} ({error}); put the cifar-10-batches-py "
            "folder there or run where torchvision can reach the internet."
        ) from None
    finally:
        socket.setdefaulttimeout(previous)
    train, test = (
        (torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(s.targets)) for s in splits
    )
    return ImageDataset(
        "cifar10", *train, *test, classes=list(splits[0].classes), source=f"{root} (torchvision CIFAR10)"
    )
