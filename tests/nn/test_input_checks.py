"""Bad input to the modules: wrong dtypes, whole numbers of other types, zero channels."""

import numpy as np
import pytest
import torch

from se_tutorial import (
    BasicResNetBlock,
    BottleneckBlock,
    ModelSpec,
    ResNet,
    SEBlock,
    SEResNetBlock,
    cifar_resnet,
)
from se_tutorial.utils.checks import SEED_RANGE, seed


def modules():
    torch.manual_seed(0)
    return [
        (SEBlock(8), torch.randn(2, 8, 4, 4)),
        (SEResNetBlock(8, 16, 2), torch.randn(2, 8, 4, 4)),
        (cifar_resnet(8, in_channels=1, attention="se"), torch.randn(2, 1, 28, 28)),
    ]


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float64])
def test_a_float_dtype_other_than_the_modules_says_to_cast_one_of_them(dtype):
    for module, x in modules():
        with pytest.raises(TypeError, match=rf"parameters are torch\.float32 but the input is {dtype}; cast"):
            module(x.to(dtype))
        assert module.to(dtype)(x.to(dtype)).dtype == dtype  # matched, it runs


@pytest.mark.parametrize("dtype", [torch.int64, torch.uint8])
def test_integer_input_says_to_convert_to_float(dtype):
    for module, x in modules():
        with pytest.raises(TypeError, match=rf"floating-point input, got {dtype}; convert it"):
            module(x.to(dtype))


def test_inside_autocast_a_float32_module_takes_lower_precision_activations():
    for module, x in modules():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = module(x.bfloat16())  # what an earlier autocast layer hands on
        assert torch.isfinite(out.float()).all()


@pytest.mark.parametrize("number", [np.int64(16), np.int32(16), np.uint8(16), torch.tensor(16)])
def test_whole_numbers_from_numpy_and_0d_tensors_are_channel_counts(number):
    block = SEBlock(number, reduction_ratio=number // 4)
    assert block.channels == 16 and type(block.channels) is int and block.hidden_channels == 4
    residual = BasicResNetBlock(number, 2 * number, number // 8)
    assert (residual.in_channels, residual.out_channels, residual.stride) == (16, 32, 2)
    assert residual(torch.randn(1, 16, 8, 8)).shape == (1, 32, 4, 4)
    assert BottleneckBlock(number, 4 * number)(torch.randn(1, 16, 4, 4)).shape == (1, 64, 4, 4)
    model = cifar_resnet(number // 2, in_channels=number // 16, num_classes=number, width=number // 16)
    assert model(torch.randn(1, 1, 28, 28)).shape == (1, 16)


@pytest.mark.parametrize(
    "value", [np.float64(16.0), torch.tensor(16.0), torch.tensor([16]), np.bool_(True), torch.tensor(True)]
)
def test_non_whole_numbers_are_still_refused(value):
    with pytest.raises(TypeError, match="channels must be a positive integer"):
        SEBlock(value)


#: Every other argument of ResNet, as a plain CIFAR spec gives them.
NETWORK = {"in_channels": 3, "num_classes": 10, **ModelSpec(depth=8).resnet_options()}


@pytest.mark.parametrize(("argument", "value"), [("stem_channels", 0), ("stem_channels", -4)])
def test_resnet_names_a_bad_stem_width(argument, value):
    with pytest.raises(ValueError, match=f"{argument} must be a positive integer"):
        ResNet(BasicResNetBlock, [1], [16], stem="cifar", **{argument: value}, **NETWORK)


def test_resnet_names_a_bad_stage_width():
    with pytest.raises(ValueError, match=r"stage_channels\[1\] must be a positive integer"):
        ResNet(BasicResNetBlock, [1, 1], [16, 0], stem="cifar", stem_channels=16, **NETWORK)


def test_seeds_outside_the_range_are_refused_with_the_range():
    assert seed("seed", np.int64(7)) == 7 and seed("seed", SEED_RANGE[1]) == SEED_RANGE[1]
    for bad in (-1, SEED_RANGE[1] + 1, 1.5, "3"):
        with pytest.raises(ValueError, match=rf"seed must be a whole number from 0 to {SEED_RANGE[1]}"):
            seed("seed", bad)
