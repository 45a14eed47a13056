"""Fashion-MNIST: found on disk, decompressed into a cache, checked, or downloaded.

:func:`load_fashion_mnist` looks in ``$SE_TUTORIAL_DATA`` (only there, when it
is set), else in ``./data``, Debian's ``dataset-fashion-mnist`` package and
finally a download from torchvision's mirrors, each file checked by its MD5.
A damaged file, a cache that cannot be written and a failed download each get
their own error and advice.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from pathlib import Path

import torch
import torchvision
from torchvision.datasets.mnist import read_image_file, read_label_file

from ..utils.fetch import DOWNLOAD_TIMEOUT, FetchError, fetch
from ..utils.files import OutputPathError, atomic_write, cache_dir, check_writable
from .dataset import CacheWriteError, CorruptDatasetError, DatasetNotFoundError, DownloadError, ImageDataset

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
#: Where Debian's and Ubuntu's ``dataset-fashion-mnist`` package puts the files.
SYSTEM_FASHION_MNIST_DIRS = [Path("/usr/share/datasets/fashion-mnist")]


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
                payload = fetch(url, DOWNLOAD_TIMEOUT, progress=True)
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
