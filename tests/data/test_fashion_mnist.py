"""Fashion-MNIST: where it is looked for, in which order, and every way finding it can fail."""

from pathlib import Path

import pytest
import torch
from fixtures import write_fashion_mnist

from se_tutorial.data import CorruptDatasetError, DatasetNotFoundError, load_dataset
from se_tutorial.data import fashion_mnist as data_module

DEBIAN_COPY = Path("/usr/share/datasets/fashion-mnist")


def test_environment_variable_comes_first(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "env", train=64)
    write_fashion_mnist(tmp_path / "data", train=32)  # ./data, since tests run in tmp_path
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "env"))
    dataset = load_dataset("fashion-mnist", download=False)
    assert len(dataset.train_labels) == 64 and "$SE_TUTORIAL_DATA" in dataset.source


def test_then_the_local_data_folder_in_torchvisions_layout(tmp_path):
    write_fashion_mnist(tmp_path / "data" / "FashionMNIST" / "raw", train=32, compress=False)
    dataset = load_dataset("fashion-mnist", download=False)
    assert dataset.train_images.shape == (32, 1, 28, 28) and dataset.train_images.dtype == torch.uint8
    assert dataset.test_labels.dtype == torch.int64 and "./data" in dataset.source


def test_then_the_system_package(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "system")
    monkeypatch.setattr(data_module, "SYSTEM_FASHION_MNIST_DIRS", [tmp_path / "system"])
    dataset = load_dataset("fashion-mnist", download=False)
    assert "dataset-fashion-mnist package" in dataset.source
    # The .gz files were decompressed into the cache, whole.
    cached = sorted(p.name for p in (tmp_path / "cache" / "fashion-mnist").rglob("*") if p.is_file())
    assert cached == sorted(data_module.FASHION_MNIST_FILES.values())


def test_cache_entries_of_two_copies_never_mix(tmp_path, monkeypatch):
    write_fashion_mnist(tmp_path / "first", train=48)
    write_fashion_mnist(tmp_path / "second", train=80)
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "first"))
    assert len(load_dataset("fashion-mnist", download=False).train_labels) == 48
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "second"))
    assert len(load_dataset("fashion-mnist", download=False).train_labels) == 80


def test_then_a_download_by_torchvision(tmp_path, monkeypatch):
    def fake_download(root):
        write_fashion_mnist(root / "FashionMNIST" / "raw", train=16, compress=False)

    monkeypatch.setattr(data_module, "_download_fashion_mnist", fake_download)
    dataset = load_dataset("fashion-mnist")
    assert "(downloaded)" in dataset.source and len(dataset.train_labels) == 16


def test_nothing_found_and_no_network_names_every_place_and_both_fixes(tmp_path, monkeypatch):
    def no_network(root):
        raise OSError("Temporary failure in name resolution")

    monkeypatch.setattr(data_module, "_download_fashion_mnist", no_network)
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("fashion-mnist")
    message = str(caught.value)
    for place in ("./data", "dataset-fashion-mnist package", "name resolution"):
        assert place in message
    assert "apt-get install dataset-fashion-mnist" in message and "SE_TUTORIAL_DATA" in message


def test_truncated_gzip_is_named_and_leaves_nothing_in_the_cache(tmp_path, monkeypatch):
    folder = write_fashion_mnist(tmp_path / "env")
    broken = folder / "train-images-idx3-ubyte.gz"
    broken.write_bytes(broken.read_bytes()[:200])
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(folder))
    with pytest.raises(CorruptDatasetError, match=r"train-images-idx3-ubyte\.gz is truncated or corrupted"):
        load_dataset("fashion-mnist", download=False)
    cache = tmp_path / "cache" / "fashion-mnist"
    assert not any(p.name.startswith(".") or "train-images" in p.name for p in cache.rglob("*"))


def test_truncated_raw_file_is_named(tmp_path, monkeypatch):
    folder = write_fashion_mnist(tmp_path / "env", compress=False)
    broken = folder / "t10k-labels-idx1-ubyte"
    broken.write_bytes(broken.read_bytes()[:-10])
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(folder))
    with pytest.raises(CorruptDatasetError, match="t10k-labels-idx1-ubyte is truncated or corrupted"):
        load_dataset("fashion-mnist", download=False)


def test_mismatched_image_and_label_counts_are_reported(tmp_path, monkeypatch):
    folder = write_fashion_mnist(tmp_path / "env", compress=False)
    other = write_fashion_mnist(tmp_path / "other", train=100, compress=False)
    (folder / "train-labels-idx1-ubyte").write_bytes((other / "train-labels-idx1-ubyte").read_bytes())
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(folder))
    with pytest.raises(CorruptDatasetError, match="not a matching Fashion-MNIST pair"):
        load_dataset("fashion-mnist", download=False)


@pytest.mark.skipif(not DEBIAN_COPY.is_dir(), reason="dataset-fashion-mnist is not installed")
def test_the_debian_copy_has_the_published_sizes(monkeypatch):
    monkeypatch.setattr(data_module, "SYSTEM_FASHION_MNIST_DIRS", [DEBIAN_COPY])
    dataset = load_dataset("fashion-mnist", download=False)
    assert dataset.train_images.shape == (60_000, 1, 28, 28) and dataset.test_images.shape == (
        10_000,
        1,
        28,
        28,
    )
    assert torch.bincount(dataset.train_labels).tolist() == [6000] * 10


def test_an_incomplete_environment_folder_is_an_error_not_a_fall_back(tmp_path, monkeypatch):
    folder = write_fashion_mnist(tmp_path / "env")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    write_fashion_mnist(tmp_path / "data")  # a complete ./data that must not be used instead
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(folder))
    with pytest.raises(DatasetNotFoundError) as caught:
        load_dataset("fashion-mnist", download=False)
    message = str(caught.value)
    assert f"$SE_TUTORIAL_DATA is set to {folder}, which lacks t10k-labels-idx1-ubyte(.gz)" in message
    assert "train-images" not in message and "unset it" in message
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "missing"))
    with pytest.raises(DatasetNotFoundError, match=r"missing, which does not exist"):
        load_dataset("fashion-mnist")


def test_damaged_content_names_the_users_file_not_the_cached_copy(tmp_path, monkeypatch):
    import gzip

    folder = write_fashion_mnist(tmp_path / "env")
    damaged = folder / "train-images-idx3-ubyte.gz"
    damaged.write_bytes(
        gzip.compress(gzip.decompress(damaged.read_bytes())[:-100])
    )  # a valid gzip, short IDX
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(folder))
    with pytest.raises(CorruptDatasetError) as caught:
        load_dataset("fashion-mnist", download=False)
    assert str(caught.value).startswith(f"{damaged} is truncated or corrupted")
    assert str(tmp_path / "cache") not in str(caught.value)


def test_a_cached_copy_damaged_later_is_decoded_again(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "env", train=48)))
    load_dataset("fashion-mnist", download=False)
    (cached,) = (tmp_path / "cache").rglob("train-images-idx3-ubyte")
    cached.write_bytes(cached.read_bytes()[:100])
    assert len(load_dataset("fashion-mnist", download=False).train_images) == 48


def test_a_file_in_the_way_of_the_cache_is_reported_as_a_cache_problem(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "env")))
    (tmp_path / "cache").write_text("a file where the cache folder should be")
    with pytest.raises(data_module.CacheWriteError) as caught:
        load_dataset("fashion-mnist", download=False)
    message = str(caught.value)
    assert "into the cache" in message and "the dataset file itself is fine" in message
    assert "$SE_TUTORIAL_CACHE" in message and "delete" not in message


def test_a_full_disk_while_caching_is_reported_as_a_cache_problem(tmp_path, monkeypatch):
    import errno

    def full_disk(path, write):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setenv("SE_TUTORIAL_DATA", str(write_fashion_mnist(tmp_path / "env")))
    monkeypatch.setattr(data_module, "atomic_write", full_disk)
    with pytest.raises(
        data_module.CacheWriteError, match=r"No space left on device\); the dataset file itself is fine"
    ):
        load_dataset("fashion-mnist", download=False)


def test_a_download_behind_an_unresponsive_proxy_times_out_with_a_clear_message(monkeypatch):
    import socket
    import threading
    import time

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    accepted = []
    threading.Thread(target=lambda: accepted.append(server.accept()), daemon=True).start()  # then silence
    proxy = f"http://127.0.0.1:{server.getsockname()[1]}"
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY"):
        monkeypatch.setenv(name, proxy)
    for name in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(data_module, "DOWNLOAD_TIMEOUT", 0.5)
    started = time.monotonic()
    try:
        with pytest.raises(DatasetNotFoundError) as caught:
            load_dataset("fashion-mnist")
    finally:
        server.close()
    assert time.monotonic() - started < 10 and accepted  # it reached the proxy, then gave up
    message = str(caught.value)
    assert "sent nothing for 0.5 s and timed out" in message and "proxy" in message
