"""Excitation statistics against a direct computation on a tiny SE-ResNet."""

import pytest
import torch

from se_tutorial import capture_excitations, cifar_resnet
from se_tutorial.data import DeviceLoader
from se_tutorial.studies import BlockExcitations, class_specificity, excitation_statistics


@pytest.fixture
def tiny():
    torch.manual_seed(0)
    model = cifar_resnet(8, in_channels=1, num_classes=3, attention="se", seed=0)
    images = torch.randint(0, 256, (40, 1, 12, 12), dtype=torch.uint8)
    labels = torch.arange(40) % 3
    loader = DeviceLoader(images, labels, batch_size=16, mean=(0.5,), std=(0.25,))
    return model, loader, images, labels


def excitations_in_one_batch(model, raw, raw_labels):
    """Every image's excitations, captured in one batch: ``({block: (N, C)}, labels)``."""
    everything = DeviceLoader(raw, raw_labels, batch_size=len(raw), mean=(0.5,), std=(0.25,))
    images, labels = next(iter(everything))
    with capture_excitations(model.eval()) as captured, torch.no_grad():
        model(images)
    return captured, labels


def test_statistics_equal_a_direct_computation_and_ignore_the_batch_size(tiny):
    model, loader, raw, raw_labels = tiny
    stats = excitation_statistics(model, loader, num_classes=3)
    captured, labels = excitations_in_one_batch(model, raw, raw_labels)
    assert set(stats) == set(captured) == {"layer1.0.attention", "layer2.0.attention", "layer3.0.attention"}
    for name, s in captured.items():
        for k in range(3):
            mine = s[labels == k].double()
            assert stats[name].class_means[k] == pytest.approx(mine.mean(0), abs=1e-6)  # float32 convolutions
            assert stats[name].class_variances[k] == pytest.approx(mine.var(0, unbiased=False), abs=1e-6)
        assert stats[name].counts.tolist() == [14, 13, 13]
        near_one = (s > 0.9).double().mean().item()
        assert stats[name].near_one == pytest.approx(near_one)


def test_class_specificity_by_hand():
    # Two classes of equal size; one channel. Class means 0.2 and 0.6 (overall 0.4): between = 0.04.
    # Within-class variances 0.01 and 0.03: within = 0.02. Ratio 2.
    block = BlockExcitations(
        class_means=torch.tensor([[0.2], [0.6]], dtype=torch.float64),
        class_variances=torch.tensor([[0.01], [0.03]], dtype=torch.float64),
        counts=torch.tensor([5.0, 5.0], dtype=torch.float64),
        near_one=0.0,
    )
    assert class_specificity(block) == pytest.approx(2.0)
    same = BlockExcitations(block.class_means[[0, 0]], block.class_variances, block.counts, 0.0)
    assert class_specificity(same) == pytest.approx(0.0)


def test_a_model_without_se_and_an_empty_loader_are_reported(tiny):
    model, loader, _, _ = tiny
    with pytest.raises(ValueError, match="no SEBlock"):
        excitation_statistics(cifar_resnet(8, in_channels=1), loader, 3)
    empty = DeviceLoader(loader.images[:0], loader.labels[:0], batch_size=4, mean=(0.0,), std=(1.0,))
    with pytest.raises(ValueError, match="no images"):
        excitation_statistics(model, empty, 3)


def test_spread_is_the_standard_deviation_over_all_images(tiny):
    model, loader, raw, raw_labels = tiny
    stats = excitation_statistics(model, loader, num_classes=3)
    captured, _ = excitations_in_one_batch(model, raw, raw_labels)
    for name, s in captured.items():
        expected = s.double().std(0, unbiased=False).mean().item()
        assert stats[name].spread == pytest.approx(expected, abs=1e-6)


def test_a_fixed_scale_multiplies_each_channel_by_its_weight():
    from se_tutorial.studies.excitations import FixedScale

    x = torch.randn(2, 3, 4, 4)
    weights = torch.tensor([0.5, 1.0, 2.0])
    assert torch.equal(FixedScale(weights)(x), x * weights.view(1, 3, 1, 1))


def test_mean_excitations_average_what_the_blocks_give(tiny):
    from se_tutorial.studies.excitations import mean_excitations

    model, loader, raw, raw_labels = tiny
    captured, _ = excitations_in_one_batch(model, raw, raw_labels)
    averages = mean_excitations(model, loader, batches=10)  # 3 batches: all of them
    for name, s in captured.items():
        assert averages[name] == pytest.approx(s.mean(0), abs=1e-6)


def test_stage_removal_replaces_only_that_stage_and_keeps_the_network(tiny):
    from se_tutorial.studies.excitations import stage_removal
    from se_tutorial.training import evaluate

    model, loader, _, _ = tiny
    before = {key: value.clone() for key, value in model.state_dict().items()}
    table = stage_removal(model, "layer3", loader, loader, batches=2)
    assert list(table.index) == ["as trained", "layer3 SE: identity", "layer3 SE: average weights"]
    assert table.loc["as trained", "test accuracy"] == f"{evaluate(model, loader)[1]:.2%}"
    trained = table.loc["as trained"]
    assert trained["became right"] == trained["became wrong"] == trained["wrong to wrong"] == 0
    for replaced in ("layer3 SE: identity", "layer3 SE: average weights"):  # the counts make the change
        flips = table.loc[replaced]
        net = (flips["became right"] - flips["became wrong"]) / len(loader.labels) * 100
        assert f"{net:+.2f}" == flips["change (points)"]
        assert 0 <= float(flips["p (McNemar)"]) <= 1
    removed = sum(p.numel() for block in model.layer3 for p in block.attention.parameters())
    assert table.loc["layer3 SE: identity", "SE parameters removed"] == removed > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # a copy was changed
    with pytest.raises(ValueError, match="not a stage"):
        stage_removal(model, "stem", loader, loader)
