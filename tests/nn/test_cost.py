"""Parameter and FLOP counts against closed forms."""

import pytest
import torch

from se_tutorial import (
    SEBlock,
    cifar_resnet,
    count_flops,
    count_parameters,
    layer_table,
    resnet50,
    se_block_cost,
    se_extra_parameters,
    se_resnet50,
)


def test_count_parameters_can_skip_frozen_ones():
    block = SEBlock(64, 16)
    assert count_parameters(block) == 2 * 64 * 4
    block.fc1.weight.requires_grad_(False)
    assert count_parameters(block, trainable_only=True) == 64 * 4


# The table of chapter 2: (C, r, H = W) -> hidden units, parameters 2 C h, FLOPs 4 C h, C H W.
SE_COSTS = [
    ((64, 16, 56), (4, 512, 1024, 200_704)),
    ((256, 16, 56), (16, 8192, 16_384, 802_816)),
    ((512, 16, 28), (32, 32_768, 65_536, 401_408)),
    ((1024, 16, 14), (64, 131_072, 262_144, 200_704)),
    ((2048, 16, 7), (128, 524_288, 1_048_576, 100_352)),
    ((16, 16, 32), (8, 256, 512, 16_384)),  # the small-channel rule: 8 units, not 1
    ((100, 8, 3), (12, 2400, 4800, 900)),
]


@pytest.mark.parametrize(("shape", "stated"), SE_COSTS)
def test_se_block_cost_matches_the_books_table_and_pytorchs_counter(shape, stated):
    channels, ratio, size = shape
    hidden, parameters, flops, elementwise = stated
    cost = se_block_cost(channels, ratio, size, size)
    assert (cost.hidden_channels, cost.parameters, cost.excitation_flops) == (hidden, parameters, flops)
    assert cost.squeeze_ops == cost.scale_ops == elementwise
    block = SEBlock(channels, ratio)
    assert count_parameters(block) == parameters
    assert count_flops(block, (1, channels, size, size)) == flops  # measured by torch.utils.flop_counter


def test_count_flops_scales_with_batch_and_leaves_training_state_alone():
    model = cifar_resnet(8)
    model.train()
    running_mean = model.bn1.running_mean.clone()
    one, four = count_flops(model, (1, 3, 32, 32)), count_flops(model, torch.zeros(4, 3, 32, 32))
    assert four == 4 * one > 0
    assert model.training
    torch.testing.assert_close(model.bn1.running_mean, running_mean)


def test_stem_convolution_flops_match_the_textbook_formula():
    model = cifar_resnet(8)
    total = count_flops(model, (1, 3, 32, 32))
    stem = 2 * 16 * 3 * 9 * 32 * 32  # 2 * C_out * C_in * k * k * H * W
    assert total > stem and count_flops(model.conv1, (1, 3, 32, 32)) == stem


def test_se_extra_parameters_rejects_mismatched_stages():
    with pytest.raises(ValueError, match="equal length"):
        se_extra_parameters([3, 4], [256], 16)
    with pytest.raises(ValueError, match="reduction_ratio"):
        se_extra_parameters([3], [256], 0)


def test_layer_table_lists_each_stage_with_its_output_shape_and_parameters():
    model = cifar_resnet(8, in_channels=1, attention="se")
    rows = layer_table(model, torch.zeros(2, 1, 28, 28))
    by_name = {row["name"]: row for row in rows}
    assert by_name["layer1"]["output_shape"] == (2, 16, 28, 28)
    assert by_name["layer3"]["output_shape"] == (2, 64, 7, 7)
    assert by_name["fc"]["parameters"] == 64 * 10 + 10
    stem_and_stages = ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "fc")
    assert sum(by_name[name]["parameters"] for name in stem_and_stages) == count_parameters(model)


# --- ResNet-50's multiply-adds, summed by hand from the architecture ------------


def resnet50_macs_by_hand(stride_on_1x1: bool, se_ratio: int | None = None, size: int = 224) -> int:
    """Multiply-adds of ResNet-50's convolutions and classifier (and SE layers), layer by layer.

    A k x k convolution from C_in to C_out channels on an output of H x W costs
    C_in * C_out * k * k * H * W; a Linear(C_in, C_out) costs C_in * C_out.
    """
    macs = 0
    side = size // 2  # 7x7/2 stem
    macs += 3 * 64 * 7 * 7 * side * side
    side //= 2  # 3x3/2 max pool
    inputs = 64
    for stage, (blocks, outputs) in enumerate([(3, 256), (4, 512), (6, 1024), (3, 2048)]):
        width = outputs // 4
        for index in range(blocks):
            stride = 2 if stage > 0 and index == 0 else 1
            out_side = side // stride
            first_side = out_side if stride_on_1x1 else side  # where the 1x1 reduction runs
            macs += inputs * width * first_side**2  # 1x1 reduce
            macs += width * width * 9 * out_side**2  # 3x3
            macs += width * outputs * out_side**2  # 1x1 expand
            if index == 0:
                macs += inputs * outputs * out_side**2  # projection shortcut
            if se_ratio:
                macs += 2 * outputs * (outputs // se_ratio)  # the two Linear layers, once per image
            inputs, side = outputs, out_side
    return macs + 2048 * 1000  # the classifier


@pytest.mark.parametrize(("stride_on_1x1", "gmacs"), [(True, 3.86), (False, 4.09)])
def test_resnet50_flops_equal_the_sum_by_hand(stride_on_1x1, gmacs):
    # About 3.86 GMACs with the stride on the 1x1 convolution (the original layout the SENet
    # paper counts), 4.09 with torchvision's v1.5 layout that runs its 3x3 at full resolution.
    by_hand = resnet50_macs_by_hand(stride_on_1x1)
    assert round(by_hand / 1e9, 2) == gmacs
    with torch.device("meta"):  # the counter needs shapes only
        measured = count_flops(resnet50(stride_on_1x1=stride_on_1x1), (1, 3, 224, 224))
    assert measured == 2 * by_hand  # a multiply-add is two FLOPs


def test_se_adds_under_one_percent_to_resnet50s_flops():
    with torch.device("meta"):
        plain = count_flops(resnet50(), (1, 3, 224, 224))
        with_se = count_flops(se_resnet50(), (1, 3, 224, 224))
    assert with_se - plain == 2 * (resnet50_macs_by_hand(False, se_ratio=16) - resnet50_macs_by_hand(False))
    assert with_se / plain - 1 < 0.01  # chapter 2: "under 1% more FLOPs" (0.06%)


@pytest.mark.parametrize(("ratio", "stated"), [(16, 2_514_944), (4, 10_059_776), (32, 1_257_472)])
def test_se_extra_parameters_for_resnet50_are_the_numbers_the_book_states(ratio, stated):
    assert se_extra_parameters([3, 4, 6, 3], [256, 512, 1024, 2048], ratio) == stated


def test_se_overhead_describes_ses_share_without_and_with_the_passes():
    from se_tutorial.nn.cost import SEOverhead

    cost = SEOverhead(blocks=2, excitation_macs=2_000_000, squeeze_adds=3_000_000, scale_mults=3_000_000)
    assert cost.describe(1e9).splitlines() == [
        "2 SE blocks",
        "two layers only:         2.00 M = 0.200%",
        "plus squeeze + scale:    8.00 M = 0.800%",
        "with SE, layers only: 1.0020 G, rounded 1.00 G",
        "with SE, with passes: 1.0080 G, rounded 1.01 G",
    ]
