"""Tiny datasets written in the real file formats (so tests never need the network), and tiny models."""

from __future__ import annotations

import gzip
import hashlib
import pickle
import struct
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from se_tutorial.data.fashion_mnist import FASHION_MNIST_FILES
from se_tutorial.training import BUDGETS, Budget

#: The smoke budget with smaller batches: 8 steps an epoch on 512 images.
TINY: Budget = replace(BUDGETS["smoke"], batch_size=64)


def tiny_model(attention: str | None = "se", width: int = 1) -> nn.Module:
    """TINY's network, initialised from the global generator after ``torch.manual_seed(0)``."""
    torch.manual_seed(0)
    return replace(TINY, width=width).model(attention=attention).build(in_channels=1, num_classes=10)


def linear_model() -> nn.Module:
    """The smallest classifier of 28x28 images, for tests of the loop around any model."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array in the IDX format (big-endian header) that MNIST files use."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def learnable_images(
    count: int, seed: int, size: int = 28, channels: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Noisy stripe patterns: class k has frequency k // 2 + 1, horizontal or vertical by k % 2.

    The phase is random, so the class survives shifts and mirrors, like a texture.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    position = np.arange(size) / size
    phase = rng.uniform(0, 2 * np.pi, (count, 1))
    waves = np.sin(2 * np.pi * (labels[:, None] // 2 + 1) * position[None, :] + phase)  # (count, size)
    grid = np.where(
        (labels % 2 == 0)[:, None, None], waves[:, :, None], waves[:, None, :]
    )  # rows or columns vary
    noise = rng.normal(0, 12, (count, channels, size, size))
    images = np.clip(128 + 90 * grid[:, None] + noise, 0, 255).astype(np.uint8)
    return images, labels.astype(np.uint8)


def write_fashion_mnist(folder: Path, train: int = 512, test: int = 256, compress: bool = True) -> Path:
    """Write the four Fashion-MNIST files (gzipped like Debian's, or raw) with learnable content."""
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for split, count, seed in (("train", train, 0), ("test", test, 1)):
        images, labels = learnable_images(count, seed)
        arrays[f"{split}_images"] = images[:, 0]
        arrays[f"{split}_labels"] = labels
    for key, name in FASHION_MNIST_FILES.items():
        data = idx_bytes(arrays[key])
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return folder


def write_cifar10(root: Path, per_batch: int = 20) -> tuple[dict[str, str], np.ndarray]:
    """Write a tiny ``cifar-10-batches-py`` folder.

    Returns each file's md5 (for torchvision's integrity check) and the test images, ``(N, 3, 32, 32)``.
    """
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for index, name in enumerate(names):
        images, labels = learnable_images(per_batch, seed=10 + index, size=32, channels=3)
        batch = {"data": images.reshape(per_batch, -1), "labels": labels.tolist()}
        (folder / name).write_bytes(pickle.dumps(batch))
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": classes}))
    checksums = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in folder.iterdir()}
    return checksums, images  # the last batch written is the test batch
