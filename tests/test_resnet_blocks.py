"""Residual blocks: the seed's structure, SE placements, bottlenecks."""

import pytest
import torch
from torch import nn

from se_tutorial import (
    PLACEMENTS,
    BasicResNetBlock,
    BottleneckBlock,
    SEBlock,
    SEBottleneckBlock,
    SEResNetBlock,
    attention_layer,
    capture_excitations,
)


def twin_blocks(**kwargs):
    """A plain block and an SE block with the same convolution weights."""
    torch.manual_seed(0)
    se_block = SEResNetBlock(8, 16, stride=2, reduction_ratio=4, **kwargs).eval()
    plain = BasicResNetBlock(8, 16, stride=2).eval()
    plain.load_state_dict({k: v for k, v in se_block.state_dict().items() if not k.startswith("attention.")})
    return plain, se_block


def test_se_sits_after_the_second_bn_and_before_the_addition():
    _, block = twin_blocks()
    x = torch.randn(2, 8, 10, 10)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    expected = torch.relu(block.attention(branch) + block.shortcut(x))
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_each_placement_computes_what_the_paper_draws(placement):
    plain, block = twin_blocks(placement=placement)
    se = block.attention
    x = torch.randn(2, 8, 10, 10)

    def branch(t):
        return plain.bn2(plain.conv2(torch.relu(plain.bn1(plain.conv1(t)))))

    expected = {
        "standard": lambda: torch.relu(se(branch(x)) + plain.shortcut(x)),
        "pre": lambda: torch.relu(branch(se(x)) + plain.shortcut(x)),
        "post": lambda: se(torch.relu(branch(x) + plain.shortcut(x))),
        "identity": lambda: torch.relu(branch(x) + se(plain.shortcut(x))),
    }[placement]()
    torch.testing.assert_close(block(x), expected)
    assert se.channels == (8 if placement == "pre" else 16)


def test_plain_block_has_no_attention_and_an_identity_shortcut_when_shapes_match():
    block = BasicResNetBlock(16, 16)
    assert isinstance(block.attention, nn.Identity) and isinstance(block.shortcut, nn.Identity)
    assert isinstance(BasicResNetBlock(16, 32).shortcut, nn.Sequential)


@pytest.mark.parametrize("stride", [1, 2])
def test_output_shapes(stride):
    x = torch.randn(3, 8, 9, 12)
    assert SEResNetBlock(8, 16, stride)(x).shape == (3, 16, (9 + stride - 1) // stride, 12 // stride)
    assert SEBottleneckBlock(8, 64, stride)(x).shape == (3, 64, (9 + stride - 1) // stride, 12 // stride)


def test_bottleneck_layout_and_se_channels():
    block = SEBottleneckBlock(256, 512, stride=2)
    assert block.conv1.weight.shape == (128, 256, 1, 1)
    assert block.conv2.stride == (2, 2) and block.conv3.weight.shape == (512, 128, 1, 1)
    assert isinstance(block.attention, SEBlock) and block.attention.hidden_channels == 32


def test_any_registered_attention_plugs_into_a_block():
    block = BottleneckBlock(64, 256, attention=attention_layer("se", gate="hard_sigmoid"))
    assert block.attention.gate_name == "hard_sigmoid"
    with capture_excitations(block) as excitations:
        block(torch.randn(2, 64, 4, 4))
    assert excitations["attention"].shape == (2, 256)


def test_se_block_backpropagates_into_its_weights():
    block = SEResNetBlock(8, 8)
    block(torch.randn(4, 8, 6, 6)).sum().backward()
    assert block.attention.fc1.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: SEResNetBlock(0, 16), ValueError, "in_channels"),
        (lambda: SEResNetBlock(8, 16, stride=0), ValueError, "stride"),
        (lambda: SEResNetBlock(8, 16, reduction_ratio=0), ValueError, "reduction_ratio"),
        (lambda: SEResNetBlock(8, 16, placement="after"), ValueError, "unknown placement 'after'"),
        (lambda: BottleneckBlock(64, 250), ValueError, "multiple of 4"),
        (lambda: attention_layer("eca2"), ValueError, "unknown attention 'eca2'"),
        (lambda: attention_layer("se", ratio=4), TypeError, "does not accept these options"),
    ],
)
def test_bad_arguments_name_the_problem(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_wrong_input_channels_are_reported_by_the_block():
    with pytest.raises(ValueError, match="SEResNetBlock was built for 8 channels but the input has 3"):
        SEResNetBlock(8, 16)(torch.randn(1, 3, 8, 8))
