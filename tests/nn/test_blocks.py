"""Residual blocks: the seed's structure, SE placements, bottlenecks."""

import pytest
import torch
import torch.nn.functional as F
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


def batch_norm(layer: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """Eval-mode batch norm from the layer's statistics and affine parameters."""
    return F.batch_norm(
        x, layer.running_mean, layer.running_var, layer.weight, layer.bias, False, 0.0, layer.eps
    )


def randomize_batch_norm(block: nn.Module) -> None:
    with torch.no_grad():
        for module in block.modules():
            if isinstance(module, nn.BatchNorm2d):
                module.running_mean.uniform_(-0.2, 0.2)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.2, 0.2)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("stride_on_1x1", [False, True])
def test_se_bottleneck_computes_the_papers_formula_with_the_stride_where_asked(stride_on_1x1, placement):
    torch.manual_seed(0)
    block = SEBottleneckBlock(16, 64, stride=2, stride_on_1x1=stride_on_1x1, placement=placement).eval()
    randomize_batch_norm(block)
    se, stride = block.attention, 2
    first, second = (stride, 1) if stride_on_1x1 else (1, stride)
    x = torch.randn(2, 16, 9, 10)

    def branch(t):  # 1x1 reduce, 3x3, 1x1 expand, each with BN; ReLU between
        t = torch.relu(batch_norm(block.bn1, F.conv2d(t, block.conv1.weight, stride=first)))
        t = torch.relu(batch_norm(block.bn2, F.conv2d(t, block.conv2.weight, stride=second, padding=1)))
        return batch_norm(block.bn3, F.conv2d(t, block.conv3.weight))

    shortcut = batch_norm(block.shortcut[1], F.conv2d(x, block.shortcut[0].weight, stride=stride))
    expected = {
        "standard": lambda: torch.relu(se(branch(x)) + shortcut),
        "pre": lambda: torch.relu(branch(se(x)) + shortcut),
        "post": lambda: se(torch.relu(branch(x) + shortcut)),
        "identity": lambda: torch.relu(branch(x) + se(shortcut)),
    }[placement]()
    with torch.no_grad():
        torch.testing.assert_close(block(x), expected)
    assert expected.shape == (2, 64, 5, 5)
    assert se.channels == (16 if placement == "pre" else 64)


def test_identity_shortcut_adds_the_input_itself():
    torch.manual_seed(0)
    block = BasicResNetBlock(8, 8).eval()
    randomize_batch_norm(block)
    x = torch.randn(2, 8, 6, 6)
    branch = batch_norm(
        block.bn2,
        F.conv2d(
            torch.relu(batch_norm(block.bn1, F.conv2d(x, block.conv1.weight, padding=1))),
            block.conv2.weight,
            padding=1,
        ),
    )
    with torch.no_grad():
        torch.testing.assert_close(block(x), torch.relu(branch + x))


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
    assert SEBottleneckBlock(256, 512, hidden_channels=7).attention.fc1.weight.shape == (7, 512)
    assert SEResNetBlock(8, 64, reduction_ratio=4).attention.fc1.weight.shape == (16, 64)


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
