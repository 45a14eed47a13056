"""CIFAR-10 through torchvision, from ``$SE_TUTORIAL_DATA`` or ``./data``, downloading there if allowed."""

from __future__ import annotations

import pickle
import socket
from pathlib import Path

import torch
import torchvision

from ..utils.fetch import DOWNLOAD_TIMEOUT
from .dataset import CorruptDatasetError, DatasetNotFoundError, ImageDataset, data_roots


def load_cifar10(download: bool = True) -> ImageDataset:
    """CIFAR-10 through torchvision, from ``$SE_TUTORIAL_DATA`` or ``./data`` (downloading there)."""
    root = data_roots()[0][0]
    folder = root / "cifar-10-batches-py"
    if folder.is_dir():  # a copy is there: if it does not load, it is damaged, not missing
        try:
            splits = [torchvision.datasets.CIFAR10(str(root), train=t, download=False) for t in (True, False)]
        except (RuntimeError, OSError, ValueError, EOFError, pickle.UnpicklingError, KeyError) as error:
            raise CorruptDatasetError(
                f"{folder} is damaged: its files fail torchvision's MD5 check or cannot be read "
                f"({type(error).__name__}). Delete the folder and download it again, or put an intact "
                "copy there."
            ) from None
        return _as_dataset(splits, root)
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
    return _as_dataset(splits, root)


def _as_dataset(splits: list, root: Path) -> ImageDataset:
    train, test = (
        (torch.from_numpy(s.data).permute(0, 3, 1, 2).contiguous(), torch.tensor(s.targets)) for s in splits
    )
    return ImageDataset(
        "cifar10", *train, *test, classes=list(splits[0].classes), source=f"{root} (torchvision CIFAR10)"
    )
