"""Datasets as tensors, and a loader that keeps them on the training device.

:func:`load_dataset` finds Fashion-MNIST (or CIFAR-10) and returns it as
``uint8`` tensors. :class:`DeviceLoader` moves those tensors to the device once
and makes every batch there - shuffling, random translation, horizontal flip
and random erasing are a few batched tensor operations, with no per-sample
Python - which is what keeps a GPU busy on a 28x28 dataset.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import socket
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torchvision
from torchvision.datasets.mnist import read_image_file, read_label_file

from . import _checks
from .download import FetchError, fetch
from .errors import SETutorialError
from .files import OutputPathError, atomic_write, check_writable

FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
#: Where torchvision downloads Fashion-MNIST from, and each compressed file's MD5.
FASHION_MNIST_MIRRORS = list(torchvision.datasets.FashionMNIST.mirrors)
FASHION_MNIST_MD5 = dict(torchvision.datasets.FashionMNIST.resources)
#: Seconds a download may go without receiving a byte before it counts as stalled.
DOWNLOAD_TIMEOUT = 30.0
#: Where Debian's and Ubuntu's ``dataset-fashion-mnist`` package puts the files.
SYSTEM_FASHION_MNIST_DIRS = [Path("/usr/share/datasets/fashion-mnist")]
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


def cache_dir() -> Path:
    """Where decompressed copies are kept: ``$SE_TUTORIAL_CACHE`` or ``~/.cache/se_tutorial``."""
    return Path(os.environ.get("SE_TUTORIAL_CACHE") or Path.home() / ".cache" / "se_tutorial")


def _fashion_mnist_candidates(folder: Path) -> tuple[Path, Path]:
    """The folder itself, and torchvision's ``FashionMNIST/raw`` below it."""
    return folder, folder / "FashionMNIST" / "raw"


def _missing_files(folder: Path) -> list[str]:
    """The Fashion-MNIST files that ``folder`` lacks (each may be raw or ``.gz``)."""
    return [
        f"{name}(.gz)"
        for name in FASHION_MNIST_FILES.values()
        if not ((folder / name).is_file() or (folder / f"{name}.gz").is_file())
    ]


def _fashion_mnist_folder(folder: Path) -> Path | None:
    """The folder itself, or torchvision's ``FashionMNIST/raw`` below it, if it holds all four files."""
    return next((c for c in _fashion_mnist_candidates(folder) if not _missing_files(c)), None)


def _cache_entry(compressed: Path) -> Path:
    """Where the decompressed copy of ``compressed`` is kept, one entry per file and version."""
    stat = compressed.stat()
    identity = f"{compressed.resolve()}:{stat.st_size}:{stat.st_mtime_ns}"
    key = hashlib.sha256(identity.encode()).hexdigest()[:16]
    return cache_dir() / "fashion-mnist" / key / compressed.name.removesuffix(".gz")


def _raw_file(folder: Path, name: str) -> tuple[Path, Path]:
    """``(file to read, the user's file)`` for ``name``: decompresses ``name.gz`` into the cache if needed.

    A damaged archive is the user's file's fault (:class:`CorruptDatasetError`);
    a cache that cannot be written is not (:class:`CacheWriteError`).
    """
    if (folder / name).is_file():
        return folder / name, folder / name
    compressed = folder / f"{name}.gz"
    target = _cache_entry(compressed)
    if target.is_file():
        return target, compressed
    try:
        check_writable(target.parent, "the cache folder", directory=True)
    except OutputPathError as error:
        raise _cache_error(compressed, target, error) from None
    try:
        with gzip.open(compressed, "rb") as source:
            decompressed = source.read()  # at most ~50 MB; reading first keeps read and write errors apart
    except (OSError, EOFError, zlib.error) as error:  # gzip raises all three for damaged archives
        raise CorruptDatasetError(
            f"{compressed} is truncated or corrupted ({error}); delete it and fetch it again, "
            "or reinstall the package that provides it."
        ) from None
    try:
        atomic_write(target, lambda file: file.write(decompressed))
    except OSError as error:  # a full disk, a read-only cache, a file in the way
        raise _cache_error(compressed, target, error) from None
    return target, compressed


def _cache_error(compressed: Path, target: Path, error: OSError) -> CacheWriteError:
    return CacheWriteError(
        f"could not write the decompressed copy of {compressed} into the cache at {target.parent} "
        f"({error.strerror or error}); the dataset file itself is fine. Make room there, or point "
        "$SE_TUTORIAL_CACHE at a writable folder."
    )


def _read_idx(path: Path, reader, shown: Path) -> torch.Tensor:
    """Read an IDX file with torchvision's reader; errors name ``shown``, the user's file."""
    try:
        return reader(str(path))
    except Exception as error:  # torchvision asserts or fails to reshape on damaged files
        raise CorruptDatasetError(
            f"{shown} is truncated or corrupted and cannot be read ({type(error).__name__}: {error}); "
            "delete it and fetch it again."
        ) from None


def _read_split(folder: Path, key: str, reader) -> tuple[torch.Tensor, Path]:
    """One IDX file as a tensor, with the user's path; a damaged cache entry is rebuilt once."""
    path, shown = _raw_file(folder, FASHION_MNIST_FILES[key])
    try:
        return _read_idx(path, reader, shown), shown
    except CorruptDatasetError:
        if path == shown:
            raise
        path.unlink(missing_ok=True)  # the cached copy was damaged after it was written: decode again
        return _read_idx(_raw_file(folder, FASHION_MNIST_FILES[key])[0], reader, shown), shown


def _read_fashion_mnist(folder: Path, source: str) -> ImageDataset:
    tensors = {}
    for split in ("train", "test"):
        images, images_path = _read_split(folder, f"{split}_images", read_image_file)  # (N, 28, 28)
        labels, labels_path = _read_split(folder, f"{split}_labels", read_label_file)  # (N,)
        if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
            raise CorruptDatasetError(
                f"{images_path} holds images of shape {tuple(images.shape)} and {labels_path} "
                f"{tuple(labels.shape)} labels; expected (N, 28, 28) and (N,). They are not a "
                "matching Fashion-MNIST pair - replace them."
            )
        tensors[f"{split}_images"] = images.unsqueeze(1)  # add the channel dim: (N, 1, 28, 28)
        tensors[f"{split}_labels"] = labels.long()
    return ImageDataset("fashion-mnist", classes=list(FASHION_MNIST_CLASSES), source=source, **tensors)


def _download_fashion_mnist(root: Path) -> None:
    """Fetch the four ``.gz`` files into ``root/FashionMNIST/raw``, checking each one's MD5.

    Every network operation times out after :data:`DOWNLOAD_TIMEOUT` seconds
    without data, so an unresponsive server or proxy fails instead of hanging.
    """
    folder = root / "FashionMNIST" / "raw"
    for name in FASHION_MNIST_FILES.values():
        target = folder / f"{name}.gz"
        expected = FASHION_MNIST_MD5[target.name]
        if target.is_file() and hashlib.md5(target.read_bytes()).hexdigest() == expected:
            continue
        failures = []
        for mirror in FASHION_MNIST_MIRRORS:
            url = mirror + target.name
            try:
                payload = fetch(url, DOWNLOAD_TIMEOUT)
            except FetchError as error:
                failures.append(str(error))
                continue
            if hashlib.md5(payload).hexdigest() != expected:
                failures.append(f"{url} delivered a damaged file (MD5 mismatch)")
                continue
            atomic_write(target, lambda file, payload=payload: file.write(payload))
            break
        else:
            raise DownloadError("; ".join(failures))


def load_fashion_mnist(download: bool = True) -> ImageDataset:
    """Fashion-MNIST from the first place that has it.

    If ``$SE_TUTORIAL_DATA`` is set, it must hold the dataset: the four IDX
    files, raw or ``.gz``, directly or in torchvision's ``FashionMNIST/raw``
    layout (else :class:`DatasetNotFoundError` names what is missing). Unset,
    the places searched in order are ``./data`` (in either layout),
    ``/usr/share/datasets/fashion-mnist`` (the Debian/Ubuntu package
    ``dataset-fashion-mnist``), and finally a download into ``./data``.
    """
    if os.environ.get("SE_TUTORIAL_DATA"):
        return _fashion_mnist_from_environment(Path(os.environ["SE_TUTORIAL_DATA"]))
    tried = []
    system = [(path, "the dataset-fashion-mnist package") for path in SYSTEM_FASHION_MNIST_DIRS]
    for path, description in [(Path("data"), "./data"), *system]:
        folder = _fashion_mnist_folder(path)
        if folder is not None:
            return _read_fashion_mnist(folder, f"{folder} ({description})")
        tried.append(f"{path} ({description})")
    if download:
        root = Path("data")
        try:
            _download_fashion_mnist(root)
        except (DownloadError, OSError) as error:  # no network, a stalled proxy, a full disk
            tried.append(f"a download into {root} ({error})")
        else:
            return _read_fashion_mnist(root / "FashionMNIST" / "raw", f"{root} (downloaded)")
    raise DatasetNotFoundError(
        "Fashion-MNIST was not found. Tried, in order: "
        + "; ".join(tried)
        + ". Fix it either way: install the offline copy with `sudo apt-get install "
        "dataset-fashion-mnist` (Debian/Ubuntu), or put the four files "
        "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
        "t10k-labels-idx1-ubyte.gz) in ./data or in a folder named by $SE_TUTORIAL_DATA "
        "(or run where the download can reach the internet)."
    )


def _fashion_mnist_from_environment(root: Path) -> ImageDataset:
    """The copy ``$SE_TUTORIAL_DATA`` names, and no other: a reader who set it means that copy."""
    folder = _fashion_mnist_folder(root)
    if folder is not None:
        return _read_fashion_mnist(folder, f"{folder} ($SE_TUTORIAL_DATA)")
    if not root.is_dir():
        problem = "does not exist" if not root.exists() else "is a file, not a folder"
    else:  # report the layout that is nearer to complete
        closest = min(_fashion_mnist_candidates(root), key=lambda c: len(_missing_files(c)))
        problem = f"lacks {', '.join(_missing_files(closest))} (looked in {closest})"
    raise DatasetNotFoundError(
        f"$SE_TUTORIAL_DATA is set to {root}, which {problem}, so it does not hold Fashion-MNIST. Put "
        "the four IDX files there (raw or .gz, directly or in FashionMNIST/raw), point "
        "SE_TUTORIAL_DATA at the folder that holds them, or unset it to use ./data, the "
        "dataset-fashion-mnist package or a download."
    )


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


def load_dataset(name: str = "fashion-mnist", download: bool = True) -> ImageDataset:
    """Load ``"fashion-mnist"`` or ``"cifar10"`` as :class:`ImageDataset`."""
    name = _checks.choice("dataset", name, DATASETS)
    return load_fashion_mnist(download) if name == "fashion-mnist" else load_cifar10(download)


@dataclass(frozen=True)
class Augmentation:
    """Batched, on-device augmentation of normalised images.

    Args:
        translate: shift by up to this many pixels each way (zero padding), like
            ``RandomCrop(size, padding=translate)``.
        flip: mirror half of the images left-right.
        erase: probability of blanking one random rectangle (``RandomErasing``);
            its side is between ``erase_scale`` of the image side.
    """

    translate: int = 2
    flip: bool = True
    erase: float = 0.0
    erase_scale: tuple[float, float] = (0.2, 0.5)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """``(N, C, H, W) -> (N, C, H, W)``, random per image, drawn from ``generator``."""
        n, _, height, width = images.shape
        device = images.device
        if self.translate:
            t = self.translate
            padded = torch.nn.functional.pad(images, (t, t, t, t))
            dy = torch.randint(0, 2 * t + 1, (n, 1), device=device, generator=generator)
            dx = torch.randint(0, 2 * t + 1, (n, 1), device=device, generator=generator)
            rows = (dy + torch.arange(height, device=device))[:, None, :, None]  # (N, 1, H, 1)
            cols = (dx + torch.arange(width, device=device))[:, None, None, :]  # (N, 1, 1, W)
            batch = torch.arange(n, device=device)[:, None, None, None]
            channel = torch.arange(images.shape[1], device=device)[None, :, None, None]
            images = padded[batch, channel, rows, cols]
        if self.flip:
            flipped = torch.rand(n, device=device, generator=generator) < 0.5
            images = torch.where(flipped[:, None, None, None], images.flip(3), images)
        if self.erase:
            low, high = self.erase_scale
            extent = torch.tensor([height, width], device=device)
            size = (torch.rand(n, 2, device=device, generator=generator) * (high - low) + low) * extent
            corner = torch.rand(n, 2, device=device, generator=generator) * (extent - size)
            rows = torch.arange(height, device=device)[None, :, None]
            cols = torch.arange(width, device=device)[None, None, :]
            inside = (
                (rows >= corner[:, 0, None, None])
                & (rows < (corner[:, 0] + size[:, 0])[:, None, None])
                & (cols >= corner[:, 1, None, None])
                & (cols < (corner[:, 1] + size[:, 1])[:, None, None])
            )
            chosen = torch.rand(n, device=device, generator=generator) < self.erase
            images = images.masked_fill((inside & chosen[:, None, None])[:, None], 0.0)
        return images


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
        _checks.positive_int("batch_size", self.batch_size)
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
    index = torch.randperm(len(labels), generator=generator)[: _checks.positive_int("subset size", size)]
    return images[index], labels[index]
