"""Parameter and FLOP counts against closed forms."""

import pytest
import torch

from se_tutorial import (
    SEBlock,
    cifar_resnet,
    count_flops,
    count_parameters,
    layer_table,
    se_block_cost,
    se_extra_parameters,
)


def test_count_parameters_can_skip_frozen_ones():
    block = SEBlock(64, 16)
    assert count_parameters(block) == 2 * 64 * 4
    block.fc1.weight.requires_grad_(False)
    assert count_parameters(block, trainable_only=True) == 64 * 4


@pytest.mark.parametrize(
    ("channels", "ratio", "size"), [(64, 16, 8), (256, 16, 14), (16, 16, 32), (100, 8, 3)]
)
def test_se_block_flops_measured_by_pytorch_equal_the_closed_form(channels, ratio, size):
    cost = se_block_cost(channels, ratio, size, size)
    assert count_flops(SEBlock(channels, ratio), (1, channels, size, size)) == cost.excitation_flops
    assert count_parameters(SEBlock(channels, ratio)) == cost.parameters
    assert cost.squeeze_ops == cost.scale_ops == channels * size * size


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
