"""Data: the datasets as tensors, and batches made on the training device.

* :mod:`.dataset` - ``ImageDataset``, the datasets the book knows and their normalisation
* :mod:`.fashion_mnist`, :mod:`.cifar10` - finding, caching, verifying and downloading each
* :mod:`.sources` - ``load_dataset(name)``
* :mod:`.augmentation` - random shifts, mirror images and erasing, on whole batches
* :mod:`.loader` - ``DeviceLoader``: every batch of an epoch, on the device, replayable by seed
"""

from .augmentation import Augmentation
from .dataset import (
    DATASETS,
    NORMALIZATION,
    CacheWriteError,
    CorruptDatasetError,
    DatasetNotFoundError,
    DownloadError,
    ImageDataset,
)
from .fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist
from .loader import DeviceLoader, subset
from .sources import load_cifar10, load_dataset

__all__ = [
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "NORMALIZATION",
    "Augmentation",
    "CacheWriteError",
    "CorruptDatasetError",
    "DatasetNotFoundError",
    "DeviceLoader",
    "DownloadError",
    "ImageDataset",
    "load_cifar10",
    "load_dataset",
    "load_fashion_mnist",
    "subset",
]
