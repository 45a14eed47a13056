"""The device loader and its batched augmentation."""

import pytest
import torch

from se_tutorial.data import Augmentation, DeviceLoader


def make_loader(count=100, batch_size=32, **options):
    images = torch.arange(count, dtype=torch.uint8)[:, None, None, None].expand(count, 1, 4, 4).clone()
    labels = torch.arange(count)
    return DeviceLoader(images, labels, batch_size, mean=(0.0,), std=(1 / 255,), **options)


def test_loader_yields_every_example_once_per_epoch_in_a_seeded_order():
    loader = make_loader(shuffle=True, seed=3)
    first = torch.cat([labels for _, labels in loader])
    second = torch.cat([labels for _, labels in loader])
    assert sorted(first.tolist()) == list(range(100)) and first.tolist() != second.tolist()
    loader.set_epoch(0)
    assert torch.cat([labels for _, labels in loader]).tolist() == first.tolist()
    assert torch.cat([labels for _, labels in make_loader(shuffle=True, seed=3)]).tolist() == first.tolist()
    assert len(make_loader(drop_last=True)) == 3 and len(make_loader()) == 4


def test_loader_normalises_and_keeps_images_with_their_labels():
    for images, labels in make_loader(shuffle=True):
        # mean 0, std 1/255: pixel value k becomes k exactly, and image k carries label k.
        torch.testing.assert_close(images[:, 0, 0, 0], labels.float())


def test_ranks_split_each_batch_without_overlap():
    shards = [torch.cat([y for _, y in make_loader(shuffle=True, rank=r, world_size=2)]) for r in (0, 1)]
    assert sorted(torch.cat(shards).tolist()) == list(range(100))


def test_translation_shifts_each_image_by_at_most_the_margin():
    torch.manual_seed(0)
    images = torch.randn(64, 2, 8, 8)
    shifted = Augmentation(translate=2, flip=False)(images, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(images, (2, 2, 2, 2))
    offsets = set()
    for original, result in zip(padded, shifted, strict=True):
        matches = [
            (dy, dx)
            for dy in range(5)
            for dx in range(5)
            if torch.equal(original[:, dy : dy + 8, dx : dx + 8], result)
        ]
        assert matches, "every output must be a crop of the padded input"
        offsets.add(matches[0])
    assert len(offsets) > 10  # the shifts really vary


def test_flip_mirrors_about_half_of_the_images():
    images = torch.randn(400, 1, 5, 5)
    out = Augmentation(translate=0, flip=True)(images, torch.Generator().manual_seed(1))
    flipped = [torch.equal(o, i.flip(2)) for o, i in zip(out, images, strict=True)]
    kept = [torch.equal(o, i) for o, i in zip(out, images, strict=True)]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and 150 < sum(flipped) < 250


def test_random_erasing_blanks_one_rectangle():
    images = torch.ones(200, 1, 20, 20)
    out = Augmentation(translate=0, flip=False, erase=1.0)(images, torch.Generator().manual_seed(2))
    for image in out:
        zero_rows = (image[0] == 0).any(1).nonzero().flatten()
        zero_cols = (image[0] == 0).any(0).nonzero().flatten()
        assert len(zero_rows) >= 3
        block = image[0, zero_rows.min() : zero_rows.max() + 1, zero_cols.min() : zero_cols.max() + 1]
        assert (block == 0).all() and (image == 0).sum() == block.numel()


def test_augmentation_is_reproducible_under_a_seed():
    images = torch.randn(32, 1, 28, 28)
    augment = Augmentation(erase=0.5)
    a = augment(images, torch.Generator().manual_seed(5))
    b = augment(images, torch.Generator().manual_seed(5))
    assert torch.equal(a, b) and not torch.equal(a, augment(images, torch.Generator().manual_seed(6)))


def test_loader_rejects_mismatched_inputs():
    with pytest.raises(ValueError, match="10 images but 9 labels"):
        DeviceLoader(torch.zeros(10, 1, 2, 2, dtype=torch.uint8), torch.zeros(9), 4, mean=(0,), std=(1,))
    with pytest.raises(ValueError, match="batch_size"):
        make_loader(batch_size=0)
