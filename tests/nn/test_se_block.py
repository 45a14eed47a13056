"""SEBlock against the paper's equations, torchvision, and bad input."""

import pytest
import torch
import torch.nn.functional as F
import torchvision
from hypothesis import given, settings
from hypothesis import strategies as st

from se_tutorial import GATES, SEBlock, capture_excitations, reduced_channels


def seeded_block(channels: int, **options) -> SEBlock:
    torch.manual_seed(0)
    return SEBlock(channels, **options)


# --- the small-channel rule -------------------------------------------------


@pytest.mark.parametrize(
    ("channels", "ratio", "expected"),
    [
        (256, 16, 16),
        (64, 16, 4),
        (17, 16, 1),
        (16, 16, 8),
        (15, 16, 7),
        (3, 16, 1),
        (1, 16, 1),
        (2, 1, 2),
        (1, 1, 1),
        (16, 32, 8),  # chapter 2: 16 / 32 would round down to zero units
        (64, 32, 2),
        (64, 63, 1),
        (64, 64, 32),  # ... and the bottleneck widens at r = C
        (64, 128, 32),
    ],
)
def test_reduced_channels_follows_the_seed_rule(channels, ratio, expected):
    assert reduced_channels(channels, ratio) == expected


@given(channels=st.integers(1, 4096), ratio=st.integers(1, 128))
def test_reduced_channels_is_never_zero_and_never_wider(channels, ratio):
    assert 1 <= reduced_channels(channels, ratio) <= channels


@given(units=st.integers(2, 64), ratio=st.integers(1, 64))
def test_reduced_channels_is_c_over_r_when_r_divides_c(units, ratio):
    assert reduced_channels(units * ratio, ratio) == units


def test_the_rule_gives_more_units_than_c_over_r_exactly_for_c_up_to_r():
    # Chapter 2, exercise 1: with r = 16 and C <= 64, exactly C = 1 ... 16.
    assert {c for c in range(1, 65) if reduced_channels(c, 16) > c / 16} == set(range(1, 17))


# --- each equation by hand ----------------------------------------------------


def test_squeeze_excitation_scale_match_a_hand_computation():
    block = seeded_block(4, reduction_ratio=2)
    x = torch.arange(2 * 4 * 2 * 3, dtype=torch.float32).reshape(2, 4, 2, 3) / 10 - 1
    w1, w2 = block.fc1.weight, block.fc2.weight  # (2, 4), (4, 2)
    # Eq. 2: z_c is the mean of channel c over its H * W = 6 positions.
    z = torch.tensor([[sum(x[n, c].flatten().tolist()) / 6 for c in range(4)] for n in range(2)])
    # Eq. 3: s = sigmoid(W2 relu(W1 z)), written out with loops.
    hidden = [
        [max(0.0, sum(w1[j, c].item() * z[n, c].item() for c in range(4))) for j in range(2)]
        for n in range(2)
    ]
    logits = [[sum(w2[c, j].item() * hidden[n][j] for j in range(2)) for c in range(4)] for n in range(2)]
    s = 1 / (1 + torch.exp(-torch.tensor(logits)))
    # Eq. 4: out_c = s_c * x_c.
    expected = s[:, :, None, None] * x
    torch.testing.assert_close(block.excitation(x), s)
    torch.testing.assert_close(block(x), expected)


@pytest.mark.parametrize("gate", sorted(GATES))
def test_gates_stay_in_their_range(gate):
    block = seeded_block(32, gate=gate)
    s = block.excitation(torch.randn(8, 32, 5, 5) * 10)
    low, high = {"sigmoid": (0, 1), "hard_sigmoid": (0, 1), "tanh": (-1, 1), "relu": (0, float("inf"))}[gate]
    assert s.min() >= low and s.max() <= high
    assert s.shape == (8, 32)


def test_max_squeeze_uses_the_spatial_maximum():
    block = seeded_block(8, squeeze="max")
    x = torch.randn(3, 8, 4, 6)
    z = x.flatten(2).max(dim=2).values
    expected = torch.sigmoid(block.fc2(torch.relu(block.fc1(z))))
    torch.testing.assert_close(block.excitation(x), expected)


def test_linear_form_equals_the_1x1_convolution_form():
    block = seeded_block(32, reduction_ratio=4)
    x = torch.randn(2, 32, 7, 5)
    pooled = x.mean(dim=(2, 3), keepdim=True)  # (N, C, 1, 1)
    hidden = F.relu(F.conv2d(pooled, block.fc1.weight[:, :, None, None]))
    s = torch.sigmoid(F.conv2d(hidden, block.fc2.weight[:, :, None, None]))
    torch.testing.assert_close(block(x), x * s)


def test_identical_to_torchvision_squeeze_excitation_with_copied_weights():
    block = seeded_block(64, reduction_ratio=16)
    reference = torchvision.ops.SqueezeExcitation(64, block.hidden_channels)
    with torch.no_grad():
        reference.fc1.weight.copy_(block.fc1.weight[:, :, None, None])
        reference.fc2.weight.copy_(block.fc2.weight[:, :, None, None])
        reference.fc1.bias.zero_()
        reference.fc2.bias.zero_()
    x = torch.randn(4, 64, 9, 9)
    torch.testing.assert_close(block(x), reference(x), rtol=1e-6, atol=1e-6)


def test_explicit_hidden_width_and_bias():
    block = SEBlock(64, hidden_channels=5, bias=True)
    assert block.fc1.weight.shape == (5, 64) and block.fc2.weight.shape == (64, 5)
    assert block.fc1.bias.shape == (5,) and block.fc2.bias.shape == (64,)
    assert SEBlock(64).fc1.bias is None and SEBlock(64).fc2.bias is None
    assert SEBlock(64, 64, hidden_channels=lambda c: c // 8).fc1.weight.shape == (8, 64)


def test_zero_reducing_weights_or_zero_input_give_weights_of_one_half():
    # Chapter 1, solution 1: with W1 = 0, s = sigmoid(0) = 0.5 for every channel, whatever the
    # image; with an all-zero input z = 0, so again s = 0.5 (no biases) and the output is zero.
    block = seeded_block(8, reduction_ratio=2)
    x = torch.randn(3, 8, 4, 5)
    with torch.no_grad():
        torch.testing.assert_close(block.excitation(torch.zeros_like(x)), torch.full((3, 8), 0.5))
        assert torch.equal(block(torch.zeros_like(x)), torch.zeros_like(x))
        block.fc1.weight.zero_()
        torch.testing.assert_close(block(x), x / 2)


# --- shapes, dtypes, memory formats -------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    batch=st.integers(1, 3),
    channels=st.integers(1, 48),
    height=st.integers(1, 9),
    width=st.integers(1, 9),
    ratio=st.integers(1, 32),
)
def test_any_shape_is_scaled_per_channel(batch, channels, height, width, ratio):
    block = SEBlock(channels, ratio)
    x = torch.randn(batch, channels, height, width, dtype=torch.float64)
    out = block.double()(x)
    assert out.shape == x.shape
    # Each output channel is its input channel times one weight in (0, 1), from Eqs. 2-3.
    w1, w2 = block.fc1.weight.detach(), block.fc2.weight.detach()
    s = 1 / (1 + torch.exp(-(torch.clamp(x.mean(dim=(2, 3)) @ w1.T, min=0) @ w2.T)))
    torch.testing.assert_close(out, x * s[:, :, None, None])
    assert ((s > 0) & (s < 1)).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_dtype_and_memory_format_are_preserved(dtype, memory_format):
    block = seeded_block(32).to(dtype)
    x = torch.randn(2, 32, 6, 4).to(dtype=dtype, memory_format=memory_format)
    out = block(x)
    assert out.dtype == dtype
    assert out.is_contiguous(memory_format=memory_format)
    reference = seeded_block(32)(x.float())
    tolerance = {torch.float32: 1e-6, torch.float16: 1e-2, torch.bfloat16: 5e-2}[dtype]
    torch.testing.assert_close(out.float(), reference, rtol=tolerance, atol=tolerance)


def test_gradcheck_in_float64():
    block = seeded_block(6, reduction_ratio=2).double()
    x = torch.randn(2, 6, 3, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(block, (x,))


def test_torch_export_matches_eager_with_a_dynamic_batch():
    block = seeded_block(16).eval()
    batch = torch.export.Dim("batch", min=1, max=64)
    exported = torch.export.export(block, (torch.randn(2, 16, 5, 7),), dynamic_shapes=({0: batch},))
    x = torch.randn(5, 16, 5, 7)
    torch.testing.assert_close(exported.module()(x), block(x))


def test_torch_compile_matches_eager():
    block = seeded_block(16)
    compiled = torch.compile(block, backend="aot_eager")
    x = torch.randn(3, 16, 4, 4)
    torch.testing.assert_close(compiled(x), block(x))


# --- reading the excitations ------------------------------------------------


def test_capture_excitations_reads_weights_without_changing_outputs():
    block = seeded_block(32)
    x = torch.randn(3, 32, 4, 4)
    before = block(x)
    with capture_excitations(block) as excitations:
        during = block(x)
    torch.testing.assert_close(during, before)
    torch.testing.assert_close(excitations["se"], block.excitation(x))
    block(torch.randn(1, 32, 4, 4))  # hooks are gone after the with-block
    assert excitations["se"].shape == (3, 32)


def test_capture_excitations_needs_an_se_block():
    with pytest.raises(ValueError, match="no SEBlock"):
        with capture_excitations(torch.nn.Conv2d(3, 3, 1)):
            pass


# --- bad input ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"channels": 0}, ValueError, "channels must be a positive integer"),
        ({"channels": -3}, ValueError, "got -3"),
        ({"channels": 64.0}, TypeError, "channels must be a positive integer, got 64.0"),
        ({"channels": True}, TypeError, "channels"),
        ({"channels": 64, "reduction_ratio": 0}, ValueError, "reduction_ratio"),
        ({"channels": 64, "reduction_ratio": 1.5}, TypeError, "reduction_ratio"),
        ({"channels": 64, "hidden_channels": 0}, ValueError, "hidden_channels"),
        ({"channels": 64, "gate": "sigmod"}, ValueError, "unknown gate 'sigmod'; choose one of"),
        ({"channels": 64, "squeeze": "median"}, ValueError, "unknown squeeze 'median'"),
    ],
)
def test_bad_arguments_name_the_problem(kwargs, error, message):
    with pytest.raises(error, match=message):
        SEBlock(**kwargs)


def test_reduced_channels_rejects_bad_input():
    with pytest.raises(ValueError, match="reduction_ratio"):
        reduced_channels(64, 0)
    with pytest.raises(TypeError, match="channels"):
        reduced_channels("64", 16)


@pytest.mark.parametrize(
    ("x", "message"),
    [
        (torch.randn(2, 16), r"4-D input .* got shape \(2, 16\)"),
        (torch.randn(16, 4, 4), "unsqueeze"),
        (torch.randn(2, 8, 4, 4), "built for 16 channels but the input has 8"),
    ],
)
def test_bad_input_tensors_name_the_problem(x, message):
    with pytest.raises(ValueError, match=message):
        SEBlock(16)(x)


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        SEBlock(16)([[1.0]])


def test_average_squeeze_does_not_overflow_in_float16():
    from se_tutorial.nn.se_block import global_average_pool

    x = torch.full((1, 4, 56, 56), 30.0, dtype=torch.float16)  # the sum, 94080, exceeds float16's max
    z = global_average_pool(x)
    assert z.dtype == torch.float16
    torch.testing.assert_close(z, torch.full((1, 4), 30.0, dtype=torch.float16))
