"""Each attention module against timm's (weights copied across) or, where timm has none, its paper's equations."""

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from se_tutorial.nn.attention import (
    ATTENTION_LAYERS,
    CBAM,
    TEMPLATES,
    CoordinateAttention,
    EffectiveSE,
    EfficientChannelAttention,
    FrequencyChannelAttention,
    GatherExcite,
    GlobalContext,
    SEBlock,
    SimAM,
    StyleRecalibration,
    dct_basis,
)
from se_tutorial.nn.attention.eca import eca_kernel_size
from se_tutorial.nn.attention.fca import FREQUENCY_SELECTIONS, select_frequencies
from se_tutorial.studies import SWEEPS

# --- parity with timm ---------------------------------------------------------


def timm_layer(module: str, name: str):
    pytest.importorskip("timm")
    from importlib import import_module

    return getattr(import_module(f"timm.layers.{module}"), name)


def randomize(module: nn.Module) -> None:
    """Random weights and batch-norm statistics, so that no zero-initialised layer hides a difference."""
    torch.manual_seed(0)
    with torch.no_grad():
        for parameter in module.parameters():
            parameter.uniform_(-0.5, 0.5)
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.running_mean.uniform_(-0.2, 0.2)
                layer.running_var.uniform_(0.5, 1.5)


def load_from_timm(ours: nn.Module, reference: nn.Module, rename: dict[str, str], drop=()) -> None:
    """Copy ``reference``'s weights into ``ours``: keys renamed by prefix, 1x1 convolutions reshaped to Linear.

    ``load_state_dict`` is strict, so every tensor of ``ours`` must come from timm.
    """
    target = ours.state_dict()
    state = {}
    for key, value in reference.state_dict().items():
        if key in drop:
            continue
        for old, new in rename.items():
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        state[key] = value.reshape(target[key].shape)
    ours.load_state_dict(state)


def assert_same_function(ours: nn.Module, reference: nn.Module, shapes) -> None:
    """Equal outputs and input gradients in float64, in training and in eval mode."""
    ours.double()
    reference.double()
    torch.manual_seed(1)
    for training in (True, False):
        ours.train(training)
        reference.train(training)
        for shape in shapes:
            x = torch.randn(shape, dtype=torch.float64, requires_grad=True)
            cotangent = torch.randn(shape, dtype=torch.float64)
            ours_out = ours(x)
            (ours_grad,) = torch.autograd.grad(ours_out, x, cotangent)
            reference_out = reference(x)
            (reference_grad,) = torch.autograd.grad(reference_out, x, cotangent)
            torch.testing.assert_close(ours_out, reference_out, rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(ours_grad, reference_grad, rtol=1e-5, atol=1e-5)


def test_se_block_equals_timm_se_module():
    reference = timm_layer("squeeze_excite", "SEModule")(64, rd_channels=4, bias=True)
    ours = SEBlock(64, hidden_channels=4, bias=True)
    randomize(reference)
    load_from_timm(ours, reference, {})
    assert_same_function(ours, reference, [(3, 64, 7, 5), (2, 64, 1, 1)])


def test_effective_se_equals_timm():
    reference = timm_layer("squeeze_excite", "EffectiveSEModule")(32)
    ours = EffectiveSE(32)
    randomize(reference)
    load_from_timm(ours, reference, {})
    assert_same_function(ours, reference, [(3, 32, 7, 5), (2, 32, 1, 1)])


@pytest.mark.parametrize("channels", [64, 256])
def test_eca_equals_timm(channels):
    reference = timm_layer("eca", "EcaModule")(channels)
    ours = EfficientChannelAttention(channels)
    assert ours.kernel_size == reference.conv.kernel_size[0] == {64: 3, 256: 5}[channels]
    randomize(reference)
    load_from_timm(ours, reference, {})
    assert_same_function(ours, reference, [(3, channels, 7, 5), (2, channels, 1, 1)])


@pytest.mark.parametrize(
    ("channels", "expected"),
    [(1, 1), (2, 1), (4, 1), (7, 1), (8, 3), (16, 3), (64, 3), (256, 5), (512, 5), (1024, 5), (2048, 7)],
)
def test_eca_kernel_size_is_the_papers_nearest_odd(channels, expected):
    # (log2 C + 1) / 2 worked by hand: C=256 -> 4.5 -> 5; C=2048 -> 6 -> 7; C=4 -> 1.5 -> 1.
    assert eca_kernel_size(channels) == expected


def test_eca_kernel_size_differs_from_timm_only_below_eight_channels():
    eca = timm_layer("eca", "EcaModule")
    for channels in (1, 4, 7, 8, 100, 4096):
        timm_size = eca(channels).conv.kernel_size[0]
        # timm clamps the rule at k = 3; the paper's rule gives 1 below 8 channels.
        assert eca_kernel_size(channels) == (timm_size if channels >= 8 else 1)


def test_cbam_with_a_spatial_batch_norm_equals_timm():
    reference = timm_layer("cbam", "CbamModule")(32, rd_channels=2)
    ours = CBAM(32, hidden_channels=2, spatial_batch_norm=True)
    randomize(reference)
    rename = {
        "channel.": "channel_attention.",
        "spatial.conv.conv.": "spatial_attention.conv.",
        "spatial.conv.bn.": "spatial_attention.norm.",
    }
    load_from_timm(ours, reference, rename)
    assert_same_function(ours, reference, [(3, 32, 9, 6), (2, 32, 1, 1)])


def test_cbam_by_default_computes_the_papers_equations():
    torch.manual_seed(0)
    cbam = CBAM(8, reduction_ratio=4)  # no batch norm: the paper's M_s
    x = torch.randn(2, 8, 5, 6)
    fc1, fc2, conv = cbam.channel_attention.fc1, cbam.channel_attention.fc2, cbam.spatial_attention.conv

    def mlp(z):  # W1 relu(W0 z), no biases
        return torch.relu(z @ fc1.weight.T) @ fc2.weight.T

    m_c = torch.sigmoid(mlp(x.mean(dim=(2, 3))) + mlp(x.flatten(2).max(dim=2).values))  # Eq. 2
    refined = x * m_c[:, :, None, None]
    stacked = torch.stack([refined.mean(dim=1), refined.max(dim=1).values], dim=1)
    m_s = torch.sigmoid(F.conv2d(stacked, conv.weight, conv.bias, padding=3))  # Eq. 3
    torch.testing.assert_close(cbam(x), refined * m_s)
    assert conv.weight.shape == (1, 2, 7, 7) and cbam.channel_attention.hidden_channels == 2


@pytest.mark.parametrize("fusion", ["add", "scale"])
def test_global_context_equals_timm(fusion):
    reference = timm_layer("global_context", "GlobalContext")(
        32, fuse_add=fusion == "add", fuse_scale=fusion == "scale", rd_channels=4
    )
    mlp = reference.mlp_add if fusion == "add" else reference.mlp_scale
    mlp.norm.eps = 1e-5  # timm's LayerNorm2d has eps 1e-6; nn.LayerNorm's (and ours) is 1e-5
    ours = GlobalContext(32, hidden_channels=4, fusion=fusion)
    randomize(reference)
    assert reference.conv_attn.bias.abs().item() > 0  # dropped below, yet the outputs agree
    branch = f"mlp_{fusion}."
    rename = {
        "conv_attn.": "key.",
        f"{branch}fc1.": "transform.0.",
        f"{branch}norm.": "transform.1.",
        f"{branch}fc2.": "transform.3.",
    }
    load_from_timm(ours, reference, rename, drop={"conv_attn.bias"})
    assert_same_function(ours, reference, [(3, 32, 7, 5), (2, 32, 1, 1)])


def test_global_context_pools_with_softmax_weights_over_positions():
    torch.manual_seed(0)
    gc = GlobalContext(4, hidden_channels=2)
    x = torch.randn(2, 4, 3, 5)
    logits = torch.einsum("c,nchw->nhw", gc.key.weight.flatten(), x).flatten(1)  # W_k x_j: (N, HW)
    alpha = logits.exp() / logits.exp().sum(dim=1, keepdim=True)
    context = (x.flatten(2) * alpha[:, None, :]).sum(dim=2)
    torch.testing.assert_close(gc.context(x), context)
    torch.testing.assert_close(gc(x), x + gc.transform(context)[:, :, None, None])


@pytest.mark.parametrize("extent", [None, 2, 4, 8])
def test_parameter_free_gather_excite_equals_timm(extent):
    reference = timm_layer("gather_excite", "GatherExcite")(16, extent=extent or 0, use_mlp=False)
    ours = GatherExcite(16, extent)
    assert not list(ours.parameters()) and not list(reference.parameters())
    assert_same_function(ours, reference, [(3, 16, 9, 6), (2, 16, 1, 1), (2, 16, 16, 16)])


def test_global_parameter_free_gather_excite_is_x_times_sigmoid_of_the_mean():
    x = torch.randn(2, 5, 4, 3)
    torch.testing.assert_close(GatherExcite(5)(x), x * torch.sigmoid(x.mean(dim=(2, 3), keepdim=True)))


def test_parametric_gather_excite_computes_strided_depthwise_convolutions():
    # timm 1.0.31 cannot build GatherExcite(extra_params=True), so the reference is written out.
    torch.manual_seed(0)
    ge = GatherExcite(6, extent=4, parametric=True).eval()
    randomize(ge)
    conv1, bn1, _, conv2, bn2 = ge.gather_convs
    x = torch.randn(2, 6, 9, 7)

    def batch_norm(layer, t):
        return F.batch_norm(t, layer.running_mean, layer.running_var, layer.weight, layer.bias, False)

    t = torch.relu(batch_norm(bn1, F.conv2d(x, conv1.weight, stride=2, padding=1, groups=6)))  # 9x7 -> 5x4
    t = batch_norm(bn2, F.conv2d(t, conv2.weight, stride=2, padding=1, groups=6))  # -> 3x2
    rows = torch.arange(9) * 3 // 9  # nearest neighbour: output row i reads gathered row floor(i * 3 / 9)
    cols = torch.arange(7) * 2 // 7
    expected = x * torch.sigmoid(t[:, :, rows][:, :, :, cols])
    assert conv1.weight.shape == (6, 1, 3, 3) and t.shape == (2, 6, 3, 2)
    with torch.no_grad():
        torch.testing.assert_close(ge(x), expected)


def test_coordinate_attention_equals_timm():
    reference = timm_layer("coord_attn", "CoordAttn")(64, rd_channels=8, bias=True)
    ours = CoordinateAttention(64, hidden_channels=8)
    randomize(reference)
    load_from_timm(ours, reference, {"conv1.": "conv.", "bn1.": "bn."})
    assert_same_function(ours, reference, [(3, 64, 7, 5), (2, 64, 1, 1), (2, 64, 1, 6)])


def test_coordinate_attention_width_follows_the_authors_rule():
    assert CoordinateAttention(64).hidden_channels == 8  # max(8, 64 // 32)
    assert CoordinateAttention(1024).hidden_channels == 32
    assert CoordinateAttention(1024, 16).hidden_channels == 64


# --- the paper's equations where timm has no module -----------------------------


def test_srm_matches_a_hand_computation():
    srm = StyleRecalibration(2).eval()
    with torch.no_grad():
        srm.style_weights.copy_(torch.tensor([[1.0, 2.0], [-1.0, 0.5]]))
        srm.bn.running_mean.copy_(torch.tensor([1.0, -1.0]))
        srm.bn.running_var.copy_(torch.tensor([4.0, 1.0]))
        srm.bn.weight.copy_(torch.tensor([2.0, 1.0]))
        srm.bn.bias.copy_(torch.tensor([0.5, 0.0]))
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 2.0]]]])  # (1, 2, 2, 2)
    # Channel 0: mu = 2.5, sigma^2 = (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25.
    # Channel 1: mu = 0.5, sigma^2 = (0.25 * 3 + 2.25) / 4 = 0.75.
    sigma = [math.sqrt(1.25 + 1e-5), math.sqrt(0.75 + 1e-5)]
    z = [1.0 * 2.5 + 2.0 * sigma[0], -1.0 * 0.5 + 0.5 * sigma[1]]  # z_c = w_c . [mu_c, sigma_c]
    z_hat = [2.0 * (z[0] - 1.0) / math.sqrt(4.0 + 1e-5) + 0.5, 1.0 * (z[1] + 1.0) / math.sqrt(1.0 + 1e-5)]
    g = torch.tensor([1 / (1 + math.exp(-value)) for value in z_hat])
    with torch.no_grad():
        torch.testing.assert_close(srm(x), x * g[None, :, None, None])


def test_srm_starts_with_zero_style_weights_and_handles_a_one_by_one_map():
    srm = StyleRecalibration(3)
    assert torch.equal(srm.style_weights, torch.zeros(3, 2))
    x = torch.randn(4, 3, 1, 1, requires_grad=True)
    out = srm(x)  # sigma = sqrt(eps): finite, and so are the gradients
    out.sum().backward()
    assert torch.isfinite(out).all() and torch.isfinite(x.grad).all()


def test_simam_matches_the_energy_formula_worked_by_hand():
    x = torch.tensor([[[[0.0, 0.0], [0.0, 4.0]]]])  # one channel, M = 4 neurons
    # mu = 1; (t - mu)^2 = 1, 1, 1, 9; sigma^2 = 12 / (M - 1) = 4.
    lam = 1e-4

    def inverse_energy(d2):  # 1 / e_t with e_t = 4 (sigma^2 + lambda) / ((t - mu)^2 + 2 sigma^2 + 2 lambda)
        return (d2 + 2 * 4 + 2 * lam) / (4 * (4 + lam))

    weights = [1 / (1 + math.exp(-inverse_energy(d2))) for d2 in (1, 1, 1, 9)]
    expected = x * torch.tensor(weights).reshape(1, 1, 2, 2)
    torch.testing.assert_close(SimAM(1)(x), expected)
    assert inverse_energy(1) == pytest.approx(1 / (4 * (4 + lam)) + 0.5)  # the module's simplified form


def test_simam_on_a_one_by_one_map_weighs_every_value_by_sigmoid_one_half():
    x = torch.randn(3, 4, 1, 1)
    torch.testing.assert_close(SimAM(4)(x), x * torch.sigmoid(torch.tensor(0.5)))


def test_simam_has_no_parameters_and_lambda_matters():
    x = torch.randn(2, 3, 4, 4)
    assert not list(SimAM(3).parameters())
    assert not torch.allclose(SimAM(3)(x), SimAM(3, energy_lambda=10.0)(x))


def test_dct_zero_frequency_is_global_average_pooling_times_sqrt_hw():
    x = torch.randn(2, 3, 7, 5, dtype=torch.float64)
    basis = dct_basis(7, 5, [(0, 0)], dtype=torch.float64)  # (1, 7, 5), the constant 1 / sqrt(35)
    torch.testing.assert_close(basis, torch.full((1, 7, 5), 1 / math.sqrt(35), dtype=torch.float64))
    coefficient = (x * basis).sum(dim=(2, 3))
    torch.testing.assert_close(coefficient, math.sqrt(7 * 5) * x.mean(dim=(2, 3)))


def test_dct_basis_is_orthonormal():
    every = [(u, v) for u in range(4) for v in range(3)]
    basis = dct_basis(4, 3, every, dtype=torch.float64).flatten(1)  # (12, 12)
    torch.testing.assert_close(basis @ basis.T, torch.eye(12, dtype=torch.float64))


def test_fca_squeezes_each_channel_group_by_its_dct_frequency():
    torch.manual_seed(0)
    fca = FrequencyChannelAttention(4, frequencies=[(0, 0), (1, 0)], dct_size=2, hidden_channels=2)
    x = (
        torch.tensor([[1.0, 2.0], [3.0, 5.0]]).expand(1, 4, 2, 2)
        * torch.tensor([1.0, 2.0, 3.0, -1.0])[None, :, None, None]
    )
    # On a 2x2 grid B_00 = 1/2 everywhere and B_10 = [[1/2, 1/2], [-1/2, -1/2]]
    # (sqrt(1/2) * sqrt(2/2) * cos(pi/4) = 1/2): channels 0-1 use (0, 0), channels 2-3 use (1, 0).
    dc, vertical = (1 + 2 + 3 + 5) / 2, (1 + 2 - 3 - 5) / 2
    z = torch.tensor([[dc * 1.0, dc * 2.0, vertical * 3.0, vertical * -1.0]])
    torch.testing.assert_close(fca.squeeze(x), z)
    s = torch.sigmoid(torch.relu(z @ fca.fc1.weight.T) @ fca.fc2.weight.T)
    torch.testing.assert_close(fca(x), x * s[:, :, None, None])
    # A larger map is average-pooled to the DCT size first: 4x4 in 2x2 blocks.
    big = x.repeat_interleave(2, dim=2).repeat_interleave(2, dim=3)
    torch.testing.assert_close(fca.squeeze(big), z)


def test_fca_named_selections_are_the_papers_7x7_positions_scaled():
    assert len(FREQUENCY_SELECTIONS) == 18 and "top16" in FREQUENCY_SELECTIONS
    top16 = select_frequencies("top16", 7)
    assert top16[:4] == [(0, 0), (0, 1), (6, 0), (0, 5)] and len(set(top16)) == 16
    assert select_frequencies("top16", 14) == [(2 * u, 2 * v) for u, v in top16]
    fca = FrequencyChannelAttention(32)  # top16 on 7x7: two channels per frequency
    assert fca.dct_filters.shape == (32, 7, 7)
    torch.testing.assert_close(fca.dct_filters[0], fca.dct_filters[1])
    assert "dct_filters" not in fca.state_dict()  # fixed: rebuilt from the arguments, never trained


def test_effective_se_has_one_full_width_layer_and_a_hard_sigmoid():
    ese = EffectiveSE(16)
    assert ese.fc.weight.shape == (16, 16) and isinstance(ese.gate, nn.Hardsigmoid)
    x = torch.randn(2, 16, 3, 3)
    s = F.relu6(ese.fc(x.mean(dim=(2, 3))) + 3) / 6
    torch.testing.assert_close(ese(x), x * s[:, :, None, None])


# --- bad arguments ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "error", "message"),
    [
        (lambda: EffectiveSE(0), ValueError, "channels must be a positive integer"),
        (lambda: EffectiveSE(8, gate="sigmod"), ValueError, "unknown gate 'sigmod'"),
        (lambda: EfficientChannelAttention(0), ValueError, "channels must be a positive integer"),
        (
            lambda: EfficientChannelAttention(64, kernel_size=4),
            ValueError,
            "kernel_size must be odd.*use 3 or 5",
        ),
        (lambda: EfficientChannelAttention(64, kernel_size=0), ValueError, "kernel_size must be a positive"),
        (lambda: EfficientChannelAttention(64, gamma=0), ValueError, "gamma must be a positive"),
        (lambda: CBAM(32, spatial_kernel_size=6), ValueError, "spatial_kernel_size must be odd"),
        (lambda: CBAM(32, reduction_ratio=0), ValueError, "reduction_ratio"),
        (lambda: CBAM(32.0), TypeError, "channels must be a positive integer, got 32.0"),
        (
            lambda: GlobalContext(32, fusion="multiply"),
            ValueError,
            "unknown fusion 'multiply'; choose one of",
        ),
        (lambda: GlobalContext(32, hidden_channels=0), ValueError, "hidden_channels"),
        (lambda: GatherExcite(16, extent=3), ValueError, r"extent must be a power of two \(2, 4, 8"),
        (lambda: GatherExcite(16, extent=1), ValueError, "extent must be a power of two"),
        (lambda: GatherExcite(16, parametric=True), ValueError, "give extent=2, 4 or 8"),
        (lambda: GatherExcite(16, 2, parametric="yes"), TypeError, "parametric must be True or False"),
        (lambda: StyleRecalibration(-1), ValueError, "got -1"),
        (lambda: StyleRecalibration(8, eps=0), ValueError, "eps must be a positive"),
        (lambda: SimAM(0), ValueError, "channels"),
        (lambda: SimAM(8, energy_lambda=-1e-4), ValueError, "energy_lambda must be a positive"),
        (
            lambda: FrequencyChannelAttention(32, frequencies="top3"),
            ValueError,
            "unknown frequency selection 'top3'",
        ),
        (lambda: FrequencyChannelAttention(24), ValueError, "24 channels do not split into 16"),
        (lambda: FrequencyChannelAttention(32, dct_size=4), ValueError, "dct_size must be a multiple of 7"),
        (
            lambda: FrequencyChannelAttention(4, frequencies=[(7, 0)]),
            ValueError,
            r"\(7, 0\) lies outside the 7x7",
        ),
        (
            lambda: FrequencyChannelAttention(4, frequencies=[]),
            TypeError,
            "non-empty list of \\(u, v\\) pairs",
        ),
        (
            lambda: FrequencyChannelAttention(4, frequencies=[(1, 2, 3)]),
            TypeError,
            "must be a \\(u, v\\) pair",
        ),
        (lambda: CoordinateAttention(64, reduction_ratio=0), ValueError, "reduction_ratio"),
        (lambda: dct_basis(0, 7, [(0, 0)]), ValueError, "height"),
    ],
)
def test_bad_arguments_name_the_problem(build, error, message):
    with pytest.raises(error, match=message):
        build()


@pytest.mark.parametrize(
    "module", [EffectiveSE(16), EfficientChannelAttention(16), CBAM(16), SimAM(16), GatherExcite(16)]
)
def test_a_wrong_input_is_reported_by_the_module(module):
    name = type(module).__name__
    with pytest.raises(ValueError, match=f"{name} was built for 16 channels but the input has 8"):
        module(torch.randn(2, 8, 4, 4))
    with pytest.raises(ValueError, match="4-D input"):
        module(torch.randn(16, 4, 4))


def test_the_template_describes_every_module_the_attention_sweep_trains():
    assert set(TEMPLATES) == set(ATTENTION_LAYERS) | {"ge-theta"}
    assert set(TEMPLATES) == set(SWEEPS["attention"].variants) - {"resnet"}
    assert all(all(step.strip() for step in template) for template in TEMPLATES.values())
