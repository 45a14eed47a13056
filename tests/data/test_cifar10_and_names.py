"""CIFAR-10 through torchvision, and datasets by name."""

import pytest
import torch
import torchvision
from fixtures import write_cifar10

from se_tutorial.data import CorruptDatasetError, DatasetNotFoundError, load_dataset


def test_cifar10_through_torchvision_from_a_tiny_file(tmp_path, monkeypatch):
    checksums, test_images = write_cifar10(tmp_path / "cifar")
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(
        cls, "train_list", [[f"data_batch_{i}", checksums[f"data_batch_{i}"]] for i in range(1, 6)]
    )
    monkeypatch.setattr(cls, "test_list", [["test_batch", checksums["test_batch"]]])
    monkeypatch.setitem(cls.meta, "md5", checksums["batches.meta"])
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "cifar"))
    dataset = load_dataset("cifar10", download=False)
    assert dataset.train_images.shape == (100, 3, 32, 32) and dataset.test_images.shape == (20, 3, 32, 32)
    assert dataset.classes[0] == "airplane" and dataset.in_channels == 3
    # Channel and pixel order survive torchvision's HWC layout and our move back to CHW.
    assert torch.equal(dataset.test_images, torch.from_numpy(test_images))


@pytest.mark.parametrize("download", [False, True])
def test_a_damaged_cifar10_folder_is_called_damaged_not_missing(tmp_path, monkeypatch, download):
    checksums, _ = write_cifar10(tmp_path / "cifar")
    cls = torchvision.datasets.CIFAR10
    monkeypatch.setattr(
        cls, "train_list", [[f"data_batch_{i}", checksums[f"data_batch_{i}"]] for i in range(1, 6)]
    )
    monkeypatch.setattr(cls, "test_list", [["test_batch", checksums["test_batch"]]])
    batch = tmp_path / "cifar" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])  # truncated: its MD5 no longer matches
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "cifar"))
    with pytest.raises(CorruptDatasetError, match="cifar-10-batches-py is damaged") as caught:
        load_dataset("cifar10", download=download)
    assert "downloaded" not in str(caught.value) and "Delete the folder" in str(caught.value)


def test_cifar10_missing_offline_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("SE_TUTORIAL_DATA", str(tmp_path / "empty"))
    with pytest.raises(DatasetNotFoundError, match="CIFAR-10 was not found"):
        load_dataset("cifar10", download=False)


def test_unknown_dataset_name():
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        load_dataset("mnist")
